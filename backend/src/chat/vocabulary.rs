//! The words a model answers to: each variable's name, label and aliases, looked up
//! exactly inside a question and fuzzily for a phrase that matched nothing.
//!
//! Everything is compared after [`normalize`]: lower case, full-width forms folded
//! to ASCII (`ＴＶ１０％` is `tv10%`), underscores, hyphens between letters and runs of
//! white space made one space, and a few common Simplified characters mapped to
//! Traditional ones, so `tv_spend`, `TV-spend` and `ＴＶ spend` are the same words.
//! Latin terms only match whole words (`search` is not found in `research`); CJK
//! terms match anywhere, since Chinese is written without spaces and a question is
//! not split into words first.
//!
//! Fuzzy matching scores a phrase against every term by the best of three measures —
//! edit distance relative to length, token overlap, and containment — so a typo
//! (`tv spnd`), a longer phrase (`tv advertising budget`) and a shorter one
//! (`advertising`) all find their variable, with a score that lets the caller tell a
//! near-certain match from a list of candidates to offer back.

use causeway_estimators::error::levenshtein;
use causeway_estimators::model::{ModelDocument, Role, VariableKind};
use serde::Serialize;

/// A phrase whose best match scores at least this, clear of the runner-up by
/// [`MARGIN`], is taken as that variable; anything less is offered back as a
/// suggestion.
pub const ACCEPT: f64 = 0.75;
/// How far the best match must lead the second one to be taken without asking.
pub const MARGIN: f64 = 0.1;
/// Matches scoring below this are not worth suggesting.
pub const SUGGEST: f64 = 0.34;

/// What the vocabulary knows of one variable.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The variable's name in the model.
    pub name: String,
    /// Its label for people.
    pub label: String,
    /// Its role (lever, KPI, …).
    pub role: Role,
    /// Its kind (continuous, binary, categorical).
    pub kind: VariableKind,
    /// Its unit, if any.
    pub unit: Option<String>,
}

/// A variable found for a phrase, with how well it matched.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Match {
    /// The variable's name in the model.
    pub name: String,
    /// Its label.
    pub label: String,
    /// 1.0 for an exact match of a name, label or alias; less for fuzzy ones.
    pub score: f64,
    /// The (normalised) name, label or alias that matched best.
    pub term: String,
}

/// A variable's term found inside a question, by byte offsets in the normalised text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mention {
    /// Start of the term (byte offset in the normalised question).
    pub start: usize,
    /// End of the term (exclusive).
    pub end: usize,
    /// The variables (indices into [`Vocabulary::entries`]) the term names; more
    /// than one when the model gives the same alias to several variables.
    pub variables: Vec<usize>,
}

/// The lookup of a model's variables by name, label and aliases.
#[derive(Clone, Debug, Default)]
pub struct Vocabulary {
    entries: Vec<Entry>,
    /// Normalised term → the variables it names, longest terms first.
    terms: Vec<(String, Vec<usize>)>,
}

impl Vocabulary {
    /// The vocabulary of `model`'s variables.
    pub fn from_model(model: &ModelDocument) -> Self {
        let mut entries = Vec::with_capacity(model.variables.len());
        let mut terms: Vec<(String, Vec<usize>)> = Vec::new();
        // Term → its slot in `terms`, so a model of thousands of variables is read
        // in linear time.
        let mut slots: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for (index, variable) in model.variables.iter().enumerate() {
            entries.push(Entry {
                name: variable.name.clone(),
                label: variable.label.clone(),
                role: variable.role,
                kind: variable.kind,
                unit: variable.unit.clone(),
            });
            let words = std::iter::once(&variable.name)
                .chain(std::iter::once(&variable.label))
                .chain(&variable.aliases);
            for word in words {
                let term = normalize(word);
                if term.is_empty() {
                    continue;
                }
                match slots.get(&term) {
                    Some(&slot) => {
                        if !terms[slot].1.contains(&index) {
                            terms[slot].1.push(index);
                        }
                    }
                    None => {
                        slots.insert(term.clone(), terms.len());
                        terms.push((term, vec![index]));
                    }
                }
            }
        }
        // Longest first, so `store sales` wins over `sales` where both match.
        terms.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        Vocabulary { entries, terms }
    }

    /// Every variable, in the model's order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The variable called `name` exactly.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// The names of the variables with `role`, in the model's order.
    pub fn names_with_role(&self, role: Role) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| e.role == role)
            .map(|e| e.name.clone())
            .collect()
    }

    /// Every term of the vocabulary found in `text` (already [normalised](normalize)),
    /// longest first where terms overlap, in the order they appear.
    pub fn mentions(&self, text: &str) -> Vec<Mention> {
        let mut found: Vec<Mention> = Vec::new();
        for (term, owners) in &self.terms {
            for (start, _) in text.match_indices(term.as_str()) {
                let end = start + term.len();
                if !whole_word(text, start, end) {
                    continue;
                }
                if found.iter().any(|m| start < m.end && m.start < end) {
                    continue;
                }
                found.push(Mention {
                    start,
                    end,
                    variables: owners.clone(),
                });
            }
        }
        found.sort_by_key(|m| m.start);
        found
    }

    /// The variables that best match `phrase`, best first, one entry per variable,
    /// only those scoring at least [`SUGGEST`].
    pub fn lookup(&self, phrase: &str) -> Vec<Match> {
        let wanted = normalize(phrase);
        if wanted.is_empty() {
            return Vec::new();
        }
        let mut best: Vec<Option<Match>> = vec![None; self.entries.len()];
        for (term, owners) in &self.terms {
            let score = similarity(&wanted, term);
            if score < SUGGEST {
                continue;
            }
            for &owner in owners {
                if best[owner].as_ref().is_none_or(|m| m.score < score) {
                    best[owner] = Some(Match {
                        name: self.entries[owner].name.clone(),
                        label: self.entries[owner].label.clone(),
                        score,
                        term: term.clone(),
                    });
                }
            }
        }
        let mut matches: Vec<Match> = best.into_iter().flatten().collect();
        matches.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.name.cmp(&b.name))
        });
        matches
    }

    /// The one variable `phrase` names, when the best match is near-certain (at least
    /// [`ACCEPT`] and [`MARGIN`] ahead of the next); otherwise the candidates to
    /// offer back, best first.
    pub fn resolve(&self, phrase: &str) -> Result<Match, Vec<Match>> {
        let matches = self.lookup(phrase);
        match matches.as_slice() {
            [first, rest @ ..]
                if first.score >= ACCEPT
                    && rest
                        .first()
                        .is_none_or(|second| first.score - second.score >= MARGIN) =>
            {
                Ok(first.clone())
            }
            _ => Err(matches),
        }
    }
}

/// Whether `text[start..end]` stands as whole words: a Latin letter, digit or
/// apostrophe at either edge must not continue into a neighbouring one. CJK
/// characters have no such edges, so CJK terms match anywhere.
pub(super) fn whole_word(text: &str, start: usize, end: usize) -> bool {
    let word_char = |c: char| c.is_ascii_alphanumeric() || c == '\'';
    let inner_first = text[start..end].chars().next();
    let inner_last = text[start..end].chars().next_back();
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    let left = !(inner_first.is_some_and(word_char) && before.is_some_and(word_char));
    let right = !(inner_last.is_some_and(word_char) && after.is_some_and(word_char));
    left && right
}

/// Whether `c` is a Chinese character (CJK unified or compatibility ideograph):
/// such terms match anywhere, and such text is written without spaces.
pub fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}')
}

/// Folds `text` to the form every comparison uses (see the module docs).
pub fn normalize(text: &str) -> String {
    let mut folded: Vec<char> = Vec::with_capacity(text.len());
    for c in text.chars() {
        let c = match c {
            // Full-width ASCII forms (ＴＶ, １０％, ，？) are the ASCII ones.
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            '\u{2212}' | '\u{2013}' | '\u{2010}' | '\u{2011}' => '-',
            '\u{2018}' | '\u{2019}' => '\'',
            _ => to_traditional(c),
        };
        for lower in c.to_lowercase() {
            folded.push(lower);
        }
    }
    let mut out = String::with_capacity(folded.len());
    for (i, &c) in folded.iter().enumerate() {
        let between_letters = |i: usize| {
            i > 0
                && folded[i - 1].is_alphabetic()
                && folded.get(i + 1).is_some_and(|n| n.is_alphabetic())
        };
        let c = if c == '_' || c.is_whitespace() || (c == '-' && between_letters(i)) {
            ' '
        } else {
            c
        };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(c);
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// The Traditional form of the Simplified characters that what-if questions use
/// most, so a question typed with a Simplified input method still finds the
/// Traditional aliases and keywords.
fn to_traditional(c: char) -> char {
    const PAIRS: &[(char, char)] = &[
        ('减', '減'),
        ('调', '調'),
        ('会', '會'),
        ('样', '樣'),
        ('响', '響'),
        ('设', '設'),
        ('为', '為'),
        ('广', '廣'),
        ('电', '電'),
        ('视', '視'),
        ('门', '門'),
        ('销', '銷'),
        ('货', '貨'),
        ('价', '價'),
        ('库', '庫'),
        ('数', '數'),
        ('寻', '尋'),
        ('关', '關'),
        ('键', '鍵'),
        ('个', '個'),
        ('么', '麼'),
        ('将', '將'),
        ('这', '這'),
        ('还', '還'),
        ('营', '營'),
        ('来', '來'),
        ('变', '變'),
        ('两', '兩'),
        ('万', '萬'),
        ('亿', '億'),
        ('标', '標'),
        ('对', '對'),
        ('么', '麼'),
        ('啥', '啥'),
        ('开', '開'),
        ('启', '啟'),
        ('闭', '閉'),
        ('动', '動'),
        ('后', '後'),
        ('时', '時'),
        ('话', '話'),
    ];
    PAIRS
        .iter()
        .find(|(simplified, _)| *simplified == c)
        .map_or(c, |(_, traditional)| *traditional)
}

/// How alike two normalised strings are, from 0 to 1 (1: equal).
pub fn similarity(a: &str, b: &str) -> f64 {
    if a == b {
        return 1.0;
    }
    let (la, lb) = (a.chars().count(), b.chars().count());
    let longest = la.max(lb).max(1) as f64;
    let edit = 1.0 - levenshtein(a, b) as f64 / longest;
    let (ta, tb) = (tokens(a), tokens(b));
    let shared = ta.iter().filter(|t| tb.contains(t)).count() as f64;
    let union = (ta.len() + tb.len()) as f64 - shared;
    let overlap = if union > 0.0 { shared / union } else { 0.0 };
    // Containment: `tv advertising budget` holds `tv advertising`. A one-letter
    // term inside anything is noise, so only terms of two characters or more count,
    // and as whole tokens for Latin text.
    let (short, long) = if la <= lb { (a, b) } else { (b, a) };
    let contained = short.chars().count() >= 2
        && long
            .match_indices(short)
            .any(|(s, _)| whole_word(long, s, s + short.len()));
    let containment = if contained {
        0.6 + 0.35 * (la.min(lb) as f64 / longest)
    } else {
        0.0
    };
    edit.max(overlap).max(containment)
}

/// Latin words and, for CJK runs, character pairs (a single character alone).
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        if word.is_ascii() {
            out.push(word.to_string());
            continue;
        }
        let chars: Vec<char> = word.chars().collect();
        if chars.len() == 1 {
            out.push(word.to_string());
        }
        for pair in chars.windows(2) {
            out.push(pair.iter().collect());
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::query::tests::retail_model;

    #[test]
    fn normalising_folds_case_width_and_separators() {
        assert_eq!(normalize("  TV_Spend "), "tv spend");
        assert_eq!(normalize("ＴＶ　ads，１０％？"), "tv ads,10%?");
        assert_eq!(normalize("tv-spend -10%"), "tv spend -10%");
        assert_eq!(normalize("电视广告减少"), "電視廣告減少");
        assert_eq!(normalize(""), "");
    }

    #[test]
    fn mentions_find_names_labels_and_aliases() {
        let vocabulary = Vocabulary::from_model(&retail_model());
        let text = normalize("If we cut TV ads by 10%, what happens to store sales?");
        let names: Vec<&str> = vocabulary
            .mentions(&text)
            .iter()
            .map(|m| vocabulary.entries()[m.variables[0]].name.as_str())
            .collect();
        assert_eq!(names, ["tv_spend", "sales"]);
        let text = normalize("如果把電視廣告減少10%，門市銷售會怎樣？");
        let names: Vec<&str> = vocabulary
            .mentions(&text)
            .iter()
            .map(|m| vocabulary.entries()[m.variables[0]].name.as_str())
            .collect();
        assert_eq!(names, ["tv_spend", "sales"]);
        // Whole words only for Latin terms.
        assert!(vocabulary.mentions("research budget").is_empty());
    }

    #[test]
    fn fuzzy_lookup_ranks_close_names_first() {
        let vocabulary = Vocabulary::from_model(&retail_model());
        for (phrase, expected) in [
            ("tv spnd", "tv_spend"),
            ("TV advertising budget", "tv_spend"),
            ("serch ads", "search_spend"),
            ("safety stok", "safety_stock"),
            ("電視廣告費", "tv_spend"),
        ] {
            let best = vocabulary.resolve(phrase);
            assert_eq!(best.map(|m| m.name), Ok(expected.to_string()), "{phrase}");
        }
        // Nothing near-certain: candidates, never a pick.
        let candidates = vocabulary.resolve("advertising").unwrap_err();
        let names: Vec<&str> = candidates.iter().map(|m| m.name.as_str()).collect();
        assert!(
            names.starts_with(&["search_spend", "tv_spend"])
                || names.starts_with(&["tv_spend", "search_spend"]),
            "{names:?}"
        );
        assert!(vocabulary.resolve("radio").is_err());
        assert!(vocabulary.lookup("").is_empty());
    }
}
