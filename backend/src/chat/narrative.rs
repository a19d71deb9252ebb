//! Grounded narratives: a language model may write a few sentences about an answer,
//! but every causal claim in them is checked against the model before anyone reads
//! them.
//!
//! A claim is "CAUSE verb EFFECT" inside one sentence — `TV advertising raises
//! store visits`, `cutting the price lowers gross margin`, `電視廣告提高來客數` —
//! where CAUSE and EFFECT are variables found by the model's names, labels and
//! aliases ([`Vocabulary`]) and the verb says a direction (raises, lowers) or only
//! an influence (affects, drives). An action word before the cause (`cutting`,
//! `減少`) turns the claimed direction around: "cutting X lowers Y" claims that X
//! raises Y.
//!
//! Each claim gets a [`Verdict`]: supported (a directed path of the model's
//! `CAUSES` edges runs from cause to effect, with the claimed sign), wrong sign
//! (corrected: the verb is replaced by its opposite), reversed (the path runs the
//! other way: removed), or unsupported (no path either way: removed). The sign is
//! the model's total effect, the sum over directed paths of the products of the
//! edges' effects; where an edge on a path has no effect (a nonlinear mechanism
//! without a linear summary), the direction is not checked and the claim says so.
//!
//! Numbers are checked too: a number in the narrative that is not one of the
//! answer's own numbers (to the precision written) removes its sentence, since the
//! language model may not produce numbers.

use std::collections::HashMap;

use causeway_estimators::model::ModelDocument;
use serde::{Deserialize, Serialize};

use super::llm::LlmTranslator;
use super::vocabulary::{is_cjk, normalize, Vocabulary};
use crate::engine::WhatIfAnswer;
use crate::planner::labels_of;
use crate::store::{traversal, MAX_DEPTH};

/// The direction a claim states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// More of the cause gives more of the effect.
    Raises,
    /// More of the cause gives less of the effect.
    Lowers,
    /// Only that the cause influences the effect.
    Affects,
}

impl Direction {
    fn flipped(self) -> Direction {
        match self {
            Direction::Raises => Direction::Lowers,
            Direction::Lowers => Direction::Raises,
            Direction::Affects => Direction::Affects,
        }
    }
}

/// What the model says of one claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A directed path runs from cause to effect, with the claimed sign (or the
    /// claim states no sign, or the sign cannot be computed: see the note).
    Supported,
    /// The path exists but the model's total effect has the other sign.
    WrongSign,
    /// The model's path runs from the effect to the cause.
    Reversed,
    /// No directed path joins the two.
    Unsupported,
    /// A number that is not one of the answer's.
    UnknownNumber,
}

/// What was done to the sentence holding a claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Shown as written.
    Kept,
    /// Shown with the verb corrected.
    Corrected,
    /// Not shown.
    Removed,
}

/// One checked claim.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClaimCheck {
    /// The sentence as the language model wrote it.
    pub sentence: String,
    /// The cause's variable name (empty for a number check).
    pub cause: String,
    /// The effect's variable name (empty for a number check).
    pub effect: String,
    /// The direction claimed (after any action word before the cause).
    pub claimed: Direction,
    /// What the model says.
    pub verdict: Verdict,
    /// What was done.
    pub action: Action,
    /// Why, for people.
    pub note: String,
}

/// A narrative after the check: the text to show and the check's record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckedNarrative {
    /// The sentences that passed, with corrections applied.
    pub text: String,
    /// Every claim found, in order, with its verdict.
    pub claims: Vec<ClaimCheck>,
}

impl CheckedNarrative {
    /// One line for people: how many claims were checked and what was changed.
    pub fn summary(&self) -> String {
        let count = |a: Action| self.claims.iter().filter(|c| c.action == a).count();
        format!(
            "checked against the model: {} claims, {} kept, {} corrected, {} removed",
            self.claims.len(),
            count(Action::Kept),
            count(Action::Corrected),
            count(Action::Removed)
        )
    }
}

/// Words that claim a direction or an influence, English and Chinese, with the
/// opposite used to correct a wrong sign.
const VERBS: &[(&str, Direction, &str)] = &[
    ("raises", Direction::Raises, "lowers"),
    ("raise", Direction::Raises, "lower"),
    ("increases", Direction::Raises, "decreases"),
    ("increase", Direction::Raises, "decrease"),
    ("boosts", Direction::Raises, "reduces"),
    ("boost", Direction::Raises, "reduce"),
    ("lifts", Direction::Raises, "lowers"),
    ("lowers", Direction::Lowers, "raises"),
    ("lower", Direction::Lowers, "raise"),
    ("reduces", Direction::Lowers, "increases"),
    ("reduce", Direction::Lowers, "increase"),
    ("decreases", Direction::Lowers, "increases"),
    ("decrease", Direction::Lowers, "increase"),
    ("cuts", Direction::Lowers, "raises"),
    ("hurts", Direction::Lowers, "helps"),
    ("helps", Direction::Raises, "hurts"),
    ("affects", Direction::Affects, "affects"),
    ("affect", Direction::Affects, "affect"),
    ("drives", Direction::Affects, "drives"),
    ("drive", Direction::Affects, "drive"),
    ("influences", Direction::Affects, "influences"),
    ("causes", Direction::Affects, "causes"),
    ("changes", Direction::Affects, "changes"),
    ("moves", Direction::Affects, "moves"),
    ("提高", Direction::Raises, "降低"),
    ("增加", Direction::Raises, "減少"),
    ("提升", Direction::Raises, "降低"),
    ("上升", Direction::Raises, "下降"),
    ("降低", Direction::Lowers, "提高"),
    ("減少", Direction::Lowers, "增加"),
    ("下降", Direction::Lowers, "上升"),
    ("影響", Direction::Affects, "影響"),
];

/// Words before a cause that say it is lowered ("cutting TV ads …").
const LOWERING: &[&str] = &[
    "cutting",
    "cut",
    "reducing",
    "lowering",
    "decreasing",
    "less",
    "fewer",
    "減少",
    "降低",
    "調低",
    "削減",
];
/// Words before a cause that say it is raised.
const RAISING: &[&str] = &[
    "raising",
    "increasing",
    "boosting",
    "more",
    "增加",
    "提高",
    "調高",
];

/// What the language model is told: write from the answer alone.
const INSTRUCTIONS: &str = "You explain a causal model's answer to a manager in two to four short \
sentences, in the language of the question. Use only the numbers in the answer JSON, rounded as \
they are there; never compute or invent a number. Name variables by their labels. Describe only \
the causal paths listed in the answer, in their direction; say which KPIs cannot move. Say whether \
the answer is for the population (interventional) or for one unit (counterfactual). Plain text, \
no lists, no markdown.";

/// Asks `llm` for a narrative of `answer` to `question`: the raw text, to be
/// [checked](check) before it is shown. `Err` says why there is none.
pub async fn write(
    llm: &LlmTranslator,
    question: &str,
    answer: &WhatIfAnswer,
    document: &ModelDocument,
) -> Result<String, String> {
    let facts = serde_json::json!({
        "question": question,
        "labels": labels_of(document),
        "answer": {
            "kind": answer.kind,
            "interventions": answer.query.interventions,
            "effects": answer.effects,
            "unaffected": answer.unaffected,
            "warnings": answer.warnings,
        },
    });
    let text = llm
        .client
        .complete_text(INSTRUCTIONS, &facts.to_string())
        .await
        .map_err(|e| e.to_string())?;
    let text = text.trim().to_string();
    // A narrative is a few sentences; anything longer is not what was asked for.
    if text.is_empty() || text.chars().count() > MAX_NARRATIVE_CHARS {
        return Err(format!(
            "the language model's narrative was empty or over {MAX_NARRATIVE_CHARS} characters"
        ));
    }
    Ok(text)
}

/// The longest narrative shown.
const MAX_NARRATIVE_CHARS: usize = 1_500;

/// Checks `narrative` against `document` and the numbers of `answer`.
pub fn check(narrative: &str, document: &ModelDocument, answer: &WhatIfAnswer) -> CheckedNarrative {
    let vocabulary = Vocabulary::from_model(document);
    let graph = Graph::new(document);
    let numbers = answer_numbers(answer);
    let mut kept = Vec::new();
    let mut claims = Vec::new();
    for sentence in sentences(narrative) {
        let mut text = sentence.to_string();
        let mut removed = false;
        for claim in claims_in(sentence, &vocabulary) {
            let (verdict, note) = graph.judge(&claim);
            let action = match verdict {
                Verdict::Supported => Action::Kept,
                Verdict::WrongSign => match correct(&text, claim.verb, claim.occurrence) {
                    Some(corrected) => {
                        text = corrected;
                        Action::Corrected
                    }
                    None => Action::Removed,
                },
                _ => Action::Removed,
            };
            removed |= action == Action::Removed;
            claims.push(ClaimCheck {
                sentence: sentence.to_string(),
                cause: claim.cause,
                effect: claim.effect,
                claimed: claim.direction,
                verdict,
                action,
                note,
            });
        }
        for number in unknown_numbers(sentence, &numbers) {
            removed = true;
            claims.push(ClaimCheck {
                sentence: sentence.to_string(),
                cause: String::new(),
                effect: String::new(),
                claimed: Direction::Affects,
                verdict: Verdict::UnknownNumber,
                action: Action::Removed,
                note: format!("{number} is not a number of this answer"),
            });
        }
        if !removed {
            kept.push(text);
        }
    }
    let separator = if narrative.chars().any(is_cjk) {
        ""
    } else {
        " "
    };
    CheckedNarrative {
        text: kept.join(separator),
        claims,
    }
}

/// One claim found in a sentence.
#[derive(Debug)]
struct Claim {
    cause: String,
    effect: String,
    direction: Direction,
    /// The verb as found (normalised), for a correction.
    verb: &'static str,
    /// Which occurrence of the verb in the sentence (0 for the first).
    occurrence: usize,
}

/// The sentences of `text`, each with its closing mark.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = i + c.len_utf8();
        let closes = match c {
            '。' | '！' | '？' => true,
            '.' | '!' | '?' => chars.peek().is_none_or(|(_, next)| next.is_whitespace()),
            _ => false,
        };
        if closes {
            let sentence = text[start..end].trim();
            if !sentence.is_empty() {
                out.push(sentence);
            }
            start = end;
        }
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// The claims of one sentence: for each pair of consecutive groups of variable
/// mentions ("TV and search ads", "store sales"), the first verb between them, and
/// an action word just before the cause group.
fn claims_in(sentence: &str, vocabulary: &Vocabulary) -> Vec<Claim> {
    let text = normalize(sentence);
    let mentions = vocabulary.mentions(&text);
    let entries = vocabulary.entries();
    // Groups of mentions joined only by "and", "or", commas or their Chinese forms.
    let mut groups: Vec<(usize, usize, Vec<String>)> = Vec::new();
    for mention in &mentions {
        let names: Vec<String> = mention
            .variables
            .iter()
            .map(|&v| entries[v].name.clone())
            .collect();
        if let Some(last) = groups.last_mut() {
            let between = text[last.1..mention.start].trim();
            if matches!(
                between,
                "and" | "or" | "," | "、" | "和" | "與" | "及" | "或"
            ) {
                last.1 = mention.end;
                last.2.extend(names);
                continue;
            }
        }
        groups.push((mention.start, mention.end, names));
    }
    let mut claims = Vec::new();
    // The cause of the last claim: "price lowers sales and raises margin" has
    // price as the subject of both verbs.
    let mut subject: Option<usize> = None;
    for i in 1..groups.len() {
        let raw = &text[groups[i - 1].1..groups[i].0];
        let between = raw.trim_start();
        let between_start = groups[i - 1].1 + (raw.len() - between.len());
        let continues = ["and ", "but ", "並", "也", "而"]
            .iter()
            .any(|w| between.starts_with(w));
        let cause_index = match subject {
            Some(s) if continues => s,
            _ => i - 1,
        };
        let (cause, effect) = (&groups[cause_index], &groups[i]);
        let ba = text[..cause.0].ends_with('把');
        let found = first_verb(between, ba)
            .map(|(at, verb, direction)| (between_start + at, verb, direction))
            // Chinese puts the direction after the effect: 「使門市銷售下降」.
            .or_else(|| {
                chinese_verb_after(&text[effect.1..])
                    .map(|(at, verb, direction)| (effect.1 + at, verb, direction))
            });
        let Some((verb_at, verb, direction)) = found else {
            continue;
        };
        let occurrence = occurrences(&text[..verb_at], verb);
        subject = Some(cause_index);
        let before = &text[..cause.0];
        let lowered =
            ends_with_word(before, LOWERING) || (ba && starts_with_any(&text[cause.1..], LOWERING));
        let raised =
            ends_with_word(before, RAISING) || (ba && starts_with_any(&text[cause.1..], RAISING));
        let direction = if lowered && !raised {
            direction.flipped()
        } else {
            direction
        };
        for c in &cause.2 {
            for e in &effect.2 {
                if c != e {
                    claims.push(Claim {
                        cause: c.clone(),
                        effect: e.clone(),
                        direction,
                        verb,
                        occurrence,
                    });
                }
            }
        }
    }
    claims
}

/// The first claim verb in `between` with its byte offset there, skipping the
/// action word that follows the cause in a 把 phrase (`ba`).
fn first_verb(between: &str, ba: bool) -> Option<(usize, &'static str, Direction)> {
    let stripped = if ba { strip_action(between) } else { between };
    let skipped = between.len() - stripped.len();
    let between = stripped;
    let mut best: Option<(usize, &'static str, Direction)> = None;
    for &(verb, direction, _) in VERBS {
        let found = if verb.chars().all(is_cjk) {
            between.find(verb)
        } else {
            find_word(between, verb)
        };
        if let Some(at) = found {
            if best.is_none_or(|(b, _, _)| at < b) {
                best = Some((at, verb, direction));
            }
        }
    }
    best.map(|(at, verb, direction)| (skipped + at, verb, direction))
}

/// In 「把電視廣告減少10%會使門市銷售下降」 the word after the cause is the action,
/// not the claim: drop it.
fn strip_action(between: &str) -> &str {
    for word in LOWERING.iter().chain(RAISING) {
        if word.chars().all(is_cjk) {
            if let Some(rest) = between.strip_prefix(word) {
                return rest;
            }
        }
    }
    between
}

/// A Chinese direction word right after the effect (after 會 or 將 at most), with
/// its byte offset in `after`.
fn chinese_verb_after(after: &str) -> Option<(usize, &'static str, Direction)> {
    let trimmed = after.trim_start_matches(['會', '將', '也', '就']);
    let at = after.len() - trimmed.len();
    VERBS
        .iter()
        .filter(|(verb, ..)| verb.chars().all(is_cjk))
        .find(|(verb, ..)| trimmed.starts_with(verb))
        .map(|&(verb, direction, _)| (at, verb, direction))
}

/// How often `verb` occurs in `text` (as a whole word where it is Latin).
fn occurrences(text: &str, verb: &str) -> usize {
    if verb.chars().all(is_cjk) {
        text.matches(verb).count()
    } else {
        word_positions(text, verb).count()
    }
}

fn ends_with_word(text: &str, words: &[&str]) -> bool {
    let text = text.trim_end();
    let text = text.strip_suffix("the").map_or(text, str::trim_end);
    words.iter().any(|w| {
        text.strip_suffix(w).is_some_and(|rest| {
            w.chars().all(is_cjk)
                || rest
                    .chars()
                    .next_back()
                    .is_none_or(|c| !c.is_alphanumeric())
        })
    })
}

fn starts_with_any(text: &str, words: &[&str]) -> bool {
    words.iter().any(|w| text.starts_with(w))
}

/// The byte offset of `word` in `text` as a whole word.
fn find_word(text: &str, word: &str) -> Option<usize> {
    word_positions(text, word).next()
}

/// The byte offsets of `word` in `text` where it stands as a whole word.
fn word_positions<'a>(text: &'a str, word: &'a str) -> impl Iterator<Item = usize> + 'a {
    text.match_indices(word).map(|(i, _)| i).filter(move |&i| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        before.is_none_or(|c| !c.is_alphanumeric()) && after.is_none_or(|c| !c.is_alphanumeric())
    })
}

/// `sentence` with the `occurrence`-th `verb` replaced by its opposite, keeping an
/// initial capital; none when that verb cannot be found as written.
fn correct(sentence: &str, verb: &str, occurrence: usize) -> Option<String> {
    let opposite = VERBS.iter().find(|(v, ..)| *v == verb)?.2;
    if verb.chars().all(is_cjk) {
        let (at, _) = sentence.match_indices(verb).nth(occurrence)?;
        return Some(format!(
            "{}{opposite}{}",
            &sentence[..at],
            &sentence[at + verb.len()..]
        ));
    }
    let lower = sentence.to_lowercase();
    // Lower-casing keeps byte offsets unless the sentence has letters whose lower
    // case is longer; then the verb may not be where it was, and nothing is changed.
    if lower.len() != sentence.len() {
        return None;
    }
    let at = word_positions(&lower, verb).nth(occurrence)?;
    if !sentence.is_char_boundary(at) || !sentence.is_char_boundary(at + verb.len()) {
        return None;
    }
    let original = &sentence[at..at + verb.len()];
    let replacement = if original.starts_with(|c: char| c.is_uppercase()) {
        let mut chars = opposite.chars();
        chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect())
            .unwrap_or_default()
    } else {
        opposite.to_string()
    };
    Some(format!(
        "{}{}{}",
        &sentence[..at],
        replacement,
        &sentence[at + verb.len()..]
    ))
}

/// The model's directed edges with their effects.
struct Graph<'a> {
    document: &'a ModelDocument,
    children: HashMap<&'a str, Vec<(&'a str, Option<f64>)>>,
}

impl<'a> Graph<'a> {
    fn new(document: &'a ModelDocument) -> Graph<'a> {
        let mut children: HashMap<&str, Vec<(&str, Option<f64>)>> = HashMap::new();
        for edge in &document.edges {
            children
                .entry(edge.source.as_str())
                .or_default()
                .push((edge.target.as_str(), edge.effect));
        }
        Graph { document, children }
    }

    /// The variables with a directed path to `variable`, by the store's traversal.
    fn causes_of(&self, variable: &str) -> Vec<String> {
        traversal::ancestors(self.document, variable, MAX_DEPTH).unwrap_or_default()
    }

    /// The total effect of `from` on `to`: the sum over directed paths of the
    /// products of the edges' effects; none when an edge on a path has none.
    /// `causes` are the causes of `to`: only edges into them or into `to` lie on
    /// a path.
    fn total_effect(
        &self,
        from: &str,
        to: &str,
        causes: &[String],
        memo: &mut HashMap<String, Option<f64>>,
    ) -> Option<f64> {
        if from == to {
            return Some(1.0);
        }
        if let Some(known) = memo.get(from) {
            return *known;
        }
        let mut total = Some(0.0);
        for &(child, effect) in self.children.get(from).into_iter().flatten() {
            if child != to && !causes.iter().any(|c| c == child) {
                continue;
            }
            total = match (total, effect, self.total_effect(child, to, causes, memo)) {
                (Some(t), Some(e), Some(rest)) => Some(t + e * rest),
                _ => None,
            };
        }
        memo.insert(from.to_string(), total);
        total
    }

    fn judge(&self, claim: &Claim) -> (Verdict, String) {
        let (cause, effect) = (&claim.cause, &claim.effect);
        let causes = self.causes_of(effect);
        if !causes.contains(cause) {
            return if self.causes_of(cause).contains(effect) {
                (
                    Verdict::Reversed,
                    format!("the model has `{effect}` causing `{cause}`, not the other way"),
                )
            } else {
                (
                    Verdict::Unsupported,
                    format!("no causal path from `{cause}` to `{effect}` in the model"),
                )
            };
        }
        if claim.direction == Direction::Affects {
            return (
                Verdict::Supported,
                format!("`{cause}` → `{effect}` is a causal path of the model"),
            );
        }
        match self.total_effect(cause, effect, &causes, &mut HashMap::new()) {
            None => (
                Verdict::Supported,
                format!("`{cause}` → `{effect}` is a causal path; its direction is not checked (a mechanism without a linear effect)"),
            ),
            Some(total) => {
                let model = if total >= 0.0 { Direction::Raises } else { Direction::Lowers };
                if model == claim.direction {
                    (Verdict::Supported, format!("the model's total effect of `{cause}` on `{effect}` is {total:+.3}"))
                } else {
                    (
                        Verdict::WrongSign,
                        format!("the model's total effect of `{cause}` on `{effect}` is {total:+.3}: the other direction"),
                    )
                }
            }
        }
    }
}

/// Every number of the answer, as a reader might write it: changes, percentages,
/// intervals, baselines, intervention values (and ±10% forms of scales), shares.
fn answer_numbers(answer: &WhatIfAnswer) -> Vec<f64> {
    let mut numbers = Vec::new();
    for effect in &answer.effects {
        numbers.extend([effect.baseline, effect.intervened, effect.change]);
        numbers.extend(effect.change_pct);
        numbers.extend(effect.ci_low);
        numbers.extend(effect.ci_high);
        numbers.extend(
            effect
                .paths
                .iter()
                .filter_map(|p| p.share)
                .map(|s| 100.0 * s),
        );
    }
    // The interval's level, as in "95% CI".
    numbers.push(95.0);
    for intervention in &answer.query.interventions {
        numbers.push(intervention.value);
        numbers.push(100.0 * (intervention.value - 1.0));
    }
    numbers.iter().map(|n| n.abs()).collect()
}

/// Numbers written in `sentence` that match none of `known` to the precision they
/// are written with (`19.6` must match to the tenth; a whole number such as `20`
/// may also be a rounding to half a percent). Small counts (1 to 3, as in "two
/// paths" written `2`) and digits inside words (`retention_30d`) are not checked.
fn unknown_numbers(sentence: &str, known: &[f64]) -> Vec<String> {
    let chars: Vec<char> = sentence.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i].is_ascii_digit()
            && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_'));
        if !starts {
            i += 1;
            continue;
        }
        let mut written = String::new();
        while i < chars.len() {
            let c = chars[i];
            let joins =
                (c == '.' || c == ',') && chars.get(i + 1).is_some_and(char::is_ascii_digit);
            if c.is_ascii_digit() || c == '.' && joins {
                written.push(c);
            } else if c != ',' || !joins {
                break;
            }
            i += 1;
        }
        if chars
            .get(i)
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == '_')
        {
            continue;
        }
        let Ok(value) = written.parse::<f64>() else {
            continue;
        };
        if value <= 3.0 && !written.contains('.') {
            continue;
        }
        let decimals = written.split('.').nth(1).map_or(0, str::len);
        let tolerance = 0.5 * 10f64.powi(-(decimals as i32)) + 1e-9;
        let relative = if decimals == 0 { 0.005 * value } else { 0.0 };
        if !known
            .iter()
            .any(|k| (k - value).abs() <= tolerance.max(relative))
        {
            out.push(written);
        }
    }
    out
}

#[cfg(test)]
mod tests;
