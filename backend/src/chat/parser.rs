//! The offline parser: a what-if question in English or Traditional Chinese → a
//! [`WhatIfQuery`], or a clarifying reply. No language model, no network.
//!
//! It reads the common forms people use — "cut TV ads by 10%", "raise price to 12",
//! "double search", "what happens to sales?", "which KPIs are affected?",
//! 「如果把電視廣告減少一成，門市銷售會怎樣？」 — and follow-ups that amend the last
//! question of the conversation ("and if by 20%?", "what about returns?",
//! 「那如果減少20%呢？」).
//!
//! How: the question is [normalised](super::vocabulary::normalize), then four kinds of
//! pieces are found in it by position: the model's variable terms (exactly, from the
//! [`Vocabulary`]), amounts (`10%`, `$500`, `2k`, `5萬`, `一成`, `百分之十`), action
//! words (`cut`, `raise`, `set`, `減少`, `調高`, `設為`, …) and cues (`what happens to`,
//! `which KPIs`, `會怎樣`, `if`, …). Punctuation and cues cut the question into
//! clauses. In each clause an action claims the variable it acts on — in English the
//! first one after it, in Chinese the nearest one before it (「把X減少」, 「X減少」), else
//! the other side — together with variables joined to it by "and"/「和」/「、」, and the
//! nearest amount. Variables no action claimed are targets. Chinese has no spaces,
//! so nothing here splits it into words: terms and keywords are found as substrings.
//!
//! It never guesses a variable. A phrase where a lever or target should be that is
//! not a term of the model is looked up fuzzily; only a near-certain match (a typo)
//! is taken, anything else becomes [`Parsed::Clarify`] listing the closest
//! variables. The result is checked with [`WhatIfQuery::validate`] before it is
//! returned.

use causeway_estimators::model::{ModelDocument, Role, VariableKind};
use causeway_estimators::scm::{Intervention, Op};

use super::query::{QueryError, WhatIfQuery};
use super::vocabulary::{is_cjk, normalize, whole_word, Entry, Match, Mention, Vocabulary};
use super::{Conversation, Parsed};

/// Questions longer than this (in characters) are refused with a clarifying reply
/// rather than parsed: nobody types a what-if question that long, and the bound
/// keeps the parser's cost small whatever is posted.
pub const MAX_QUESTION_CHARS: usize = 1000;

/// The offline parser for one model.
#[derive(Clone, Debug)]
pub struct Parser<'m> {
    model: &'m ModelDocument,
    vocabulary: Vocabulary,
}

impl<'m> Parser<'m> {
    /// A parser that knows `model`'s variables.
    pub fn new(model: &'m ModelDocument) -> Self {
        Parser {
            model,
            vocabulary: Vocabulary::from_model(model),
        }
    }

    /// The vocabulary it matches variables with.
    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    /// Parses `question`, amending `conversation`'s last query where the question
    /// is a follow-up. Never panics, whatever the text.
    pub fn parse(&self, question: &str, conversation: &Conversation) -> Parsed {
        let lang = Lang::of(question);
        let length = question.chars().count();
        if length > MAX_QUESTION_CHARS {
            return self.clarify(
                lang.say(
                    &format!("That question is {length} characters long; please ask it in fewer than {MAX_QUESTION_CHARS}."),
                    &format!("這個問題有 {length} 個字，請用 {MAX_QUESTION_CHARS} 個字以內提問。"),
                ),
                self.levers(),
            );
        }
        let text = normalize(question);
        if !text.chars().any(char::is_alphanumeric) {
            return self.clarify(self.ask_for_a_lever(lang), self.levers());
        }
        match self.read(&text, lang, conversation) {
            Ok(query) => match query.validate(self.model) {
                Ok(()) => Parsed::Query(query),
                Err(error) => {
                    let suggestions = match &error {
                        QueryError::UnknownVariable {
                            suggestion: Some(s),
                            ..
                        } => vec![s.clone()],
                        QueryError::WrongOperation { variable, .. }
                        | QueryError::NotFinite { variable } => vec![variable.clone()],
                        _ => Vec::new(),
                    };
                    self.clarify(error.to_string(), suggestions)
                }
            },
            Err(clarify) => clarify,
        }
    }

    fn clarify(&self, message: String, suggestions: Vec<String>) -> Parsed {
        Parsed::Clarify {
            message,
            suggestions,
        }
    }

    fn levers(&self) -> Vec<String> {
        self.vocabulary.names_with_role(Role::Lever)
    }

    fn ask_for_a_lever(&self, lang: Lang) -> String {
        let levers = self.describe_names(&self.levers());
        lang.say(
            &format!("Which lever should change, and by how much? For example: \"cut {} by 10%\". The levers of this model are: {levers}.", self.first_lever_label()),
            &format!("要調整哪個槓桿、調整多少？例如：「把{}減少10%」。這個模型的槓桿有：{levers}。", self.first_lever_label()),
        )
    }

    fn first_lever_label(&self) -> String {
        self.vocabulary
            .entries()
            .iter()
            .find(|e| e.role == Role::Lever)
            .map_or_else(|| "X".to_string(), |e| e.label.clone())
    }

    /// `TV advertising (tv_spend), price (price)`.
    fn describe_names(&self, names: &[String]) -> String {
        names
            .iter()
            .filter_map(|n| self.vocabulary.get(n))
            .map(|e| {
                if e.label == e.name {
                    e.name.clone()
                } else {
                    format!("{} ({})", e.label, e.name)
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn unknown(&self, phrase: &str, matches: &[Match], lever: bool, lang: Lang) -> Parsed {
        let mut suggestions: Vec<String> = matches.iter().take(5).map(|m| m.name.clone()).collect();
        // When nothing close has the role the slot wants, offer that role's
        // variables as well: a lever slot lists the levers, a target slot the KPIs.
        let role = if lever { Role::Lever } else { Role::Kpi };
        let has_role = suggestions
            .iter()
            .any(|s| self.vocabulary.get(s).is_some_and(|e| e.role == role));
        if !has_role {
            for name in self.vocabulary.names_with_role(role) {
                if !suggestions.contains(&name) {
                    suggestions.push(name);
                }
            }
        }
        let listed = self.describe_names(&suggestions);
        let message = if matches.is_empty() {
            lang.say(
                &format!(
                    "This model has no variable called \"{phrase}\". {} {listed}.",
                    if lever {
                        "Its levers are:"
                    } else {
                        "Its KPIs are:"
                    }
                ),
                &format!(
                    "這個模型裡沒有「{phrase}」。{}{listed}。",
                    if lever {
                        "它的槓桿有："
                    } else {
                        "它的 KPI 有："
                    }
                ),
            )
        } else {
            lang.say(
                &format!("I am not sure which variable \"{phrase}\" means. The closest are: {listed}. Which one?"),
                &format!("不確定「{phrase}」指的是哪個變數。最接近的有：{listed}。是哪一個？"),
            )
        };
        self.clarify(message, suggestions)
    }

    /// The query the question asks, or the clarifying reply.
    fn read(
        &self,
        text: &str,
        lang: Lang,
        conversation: &Conversation,
    ) -> Result<WhatIfQuery, Parsed> {
        let pieces = Pieces::find(text, &self.vocabulary);
        for mention in &pieces.mentions {
            if mention.variables.len() > 1 {
                let names: Vec<String> = mention
                    .variables
                    .iter()
                    .map(|&i| self.vocabulary.entries()[i].name.clone())
                    .collect();
                let term = &text[mention.start..mention.end];
                let listed = self.describe_names(&names);
                return Err(self.clarify(
                    lang.say(
                        &format!("\"{term}\" could mean several variables: {listed}. Which one?"),
                        &format!("「{term}」可能指好幾個變數：{listed}。是哪一個？"),
                    ),
                    names,
                ));
            }
        }
        let last = conversation.last.as_ref();
        let clauses = pieces.clauses();
        // Nothing of a question ("why?", "ok") does not repeat the last answer.
        if pieces.mentions.is_empty()
            && pieces.verbs.is_empty()
            && pieces.amounts.is_empty()
            && !pieces.cues.iter().any(|c| c.2 != CueKind::If)
        {
            return Err(self.clarify(self.ask_for_a_lever(lang), self.levers()));
        }
        let mut claimed = vec![false; pieces.mentions.len()];
        let mut amount_used = vec![false; pieces.amounts.len()];
        // Levers named in this question, and actions whose lever is "the last one".
        let mut levers: Vec<Intervention> = Vec::new();
        let mut amendments: Vec<(Option<Action>, Option<Amount>)> = Vec::new();
        let mut targets: Vec<String> = Vec::new();
        let mut which = false;

        for clause in &clauses {
            which |= clause.kind == ClauseKind::Which;
            let in_clause = |start: usize| start >= clause.start && start < clause.end;
            let has_amount = pieces.amounts.iter().any(|a| in_clause(a.start));
            let verbs: Vec<&Verb> = pieces
                .verbs
                .iter()
                .filter(|v| in_clause(v.start))
                // "How does sales change?" asks about a target; its verb is no action.
                .filter(|v| {
                    clause.kind == ClauseKind::Normal
                        || has_amount
                        || matches!(v.action, Action::Factor(_) | Action::On | Action::Off)
                })
                .collect();
            for (k, verb) in verbs.iter().enumerate() {
                let lower = if k == 0 {
                    clause.start
                } else {
                    verbs[k - 1].end
                };
                let upper = verbs.get(k + 1).map_or(clause.end, |v| v.start);
                let free = |i: usize, claimed: &[bool]| {
                    let m = &pieces.mentions[i];
                    !claimed[i] && m.start >= lower && m.end <= upper
                };
                let after = (0..pieces.mentions.len())
                    .find(|&i| free(i, &claimed) && pieces.mentions[i].start >= verb.end);
                let before = (0..pieces.mentions.len())
                    .rev()
                    .find(|&i| free(i, &claimed) && pieces.mentions[i].end <= verb.start);
                let first = if verb.cjk {
                    before.or(after)
                } else {
                    after.or(before)
                };
                let mut group: Vec<usize> = Vec::new();
                if let Some(first) = first {
                    group.push(first);
                    claimed[first] = true;
                    // Variables joined by "and" / 和 / 、 share the action.
                    let forward = pieces.mentions[first].start >= verb.end;
                    let mut at = first;
                    loop {
                        let next = if forward {
                            at.checked_add(1)
                        } else {
                            at.checked_sub(1)
                        };
                        let Some(next) =
                            next.filter(|&n| n < pieces.mentions.len() && free(n, &claimed))
                        else {
                            break;
                        };
                        let (a, b) = if forward { (at, next) } else { (next, at) };
                        let gap = &text[pieces.mentions[a].end..pieces.mentions[b].start];
                        if !is_connector(gap) {
                            break;
                        }
                        group.push(next);
                        claimed[next] = true;
                        at = next;
                    }
                    // 「電視廣告和搜尋廣告都減少」 was chained backwards; keep the
                    // question's order.
                    group.sort_by_key(|&i| pieces.mentions[i].start);
                }
                // The amount: the nearest one after the action, else before it.
                let amount_index = (0..pieces.amounts.len())
                    .find(|&i| {
                        !amount_used[i]
                            && pieces.amounts[i].start >= verb.end
                            && pieces.amounts[i].start < upper
                    })
                    .or_else(|| {
                        (0..pieces.amounts.len()).rev().find(|&i| {
                            !amount_used[i]
                                && pieces.amounts[i].end <= verb.start
                                && pieces.amounts[i].start >= lower
                        })
                    });
                if let Some(i) = amount_index {
                    amount_used[i] = true;
                }
                let mut amount = amount_index.map(|i| pieces.amounts[i].clone());
                // "from 10 to 12": the second amount is the value set.
                let mut from_to = false;
                if let Some(first) = amount_index {
                    let before = text[..pieces.amounts[first].start].trim_end();
                    let next = first + 1;
                    if before.ends_with("from") || before.ends_with('從') || before.ends_with('由')
                    {
                        if let Some(second) = pieces.amounts.get(next).filter(|a| {
                            !amount_used[next]
                                && a.start < upper
                                && says_to(&text[pieces.amounts[first].end..a.start])
                        }) {
                            amount = Some(second.clone());
                            amount_used[next] = true;
                            from_to = true;
                        }
                    }
                }
                let lever_end = group
                    .iter()
                    .map(|&i| pieces.mentions[i].end)
                    .max()
                    .unwrap_or(verb.end)
                    .max(verb.end);
                let to_set = from_to
                    || amount.as_ref().is_some_and(|a| {
                        a.start >= lever_end && says_to(&text[lever_end..a.start])
                    });
                // Words joined to the named levers by "and" / 和 that are no term of
                // the model ("cut TV and radio by 10%") are asked about, not dropped.
                if let (Some(&first), Some(&last_mention)) = (group.first(), group.last()) {
                    let forward = pieces.mentions[first].start >= verb.end;
                    let rest = if forward {
                        let end = amount
                            .as_ref()
                            .filter(|a| a.start >= pieces.mentions[last_mention].end)
                            .map_or(upper, |a| a.start);
                        text.get(pieces.mentions[last_mention].end..end)
                    } else {
                        text.get(lower..pieces.mentions[first].start)
                    };
                    if let Some(phrase) = rest.and_then(joined_phrase) {
                        match self.vocabulary.resolve(&phrase) {
                            Ok(found) => {
                                if let Some(entry) = self.vocabulary.get(&found.name) {
                                    levers.push(self.intervention(
                                        entry,
                                        verb.action,
                                        amount.as_ref(),
                                        to_set,
                                        text,
                                        lever_end,
                                        lang,
                                    )?);
                                }
                            }
                            Err(matches) => return Err(self.unknown(&phrase, &matches, true, lang)),
                        }
                    }
                }
                if group.is_empty() {
                    // No term of the model: either "the same lever as before" (a
                    // follow-up, or a pronoun), or a name the model does not have.
                    let phrase = object_phrase(text, verb, lower, upper, amount.as_ref());
                    if phrase.is_empty() {
                        amendments.push((Some(verb.action), amount));
                        continue;
                    }
                    match self.vocabulary.resolve(&phrase) {
                        Ok(found) => {
                            let Some(entry) = self.vocabulary.get(&found.name) else {
                                continue;
                            };
                            levers.push(self.intervention(
                                entry,
                                verb.action,
                                amount.as_ref(),
                                to_set,
                                text,
                                lever_end,
                                lang,
                            )?);
                        }
                        Err(matches) => return Err(self.unknown(&phrase, &matches, true, lang)),
                    }
                    continue;
                }
                for &i in &group {
                    let entry = &self.vocabulary.entries()[pieces.mentions[i].variables[0]];
                    levers.push(self.intervention(
                        entry,
                        verb.action,
                        amount.as_ref(),
                        to_set,
                        text,
                        lever_end,
                        lang,
                    )?);
                }
            }
            // A target named by a phrase the model does not have ("what happens to
            // profit?") is asked about, not dropped.
            if clause.kind == ClauseKind::Target {
                for phrase in leftover_phrases(&pieces, clause) {
                    match self.vocabulary.resolve(&phrase) {
                        Ok(found) => targets.push(found.name),
                        Err(matches) => return Err(self.unknown(&phrase, &matches, false, lang)),
                    }
                }
            }
            // Conditions ("in the north region") are not read yet: say so rather
            // than take the region for a target.
            if clause.kind == ClauseKind::Normal {
                if let Some(mention) = pieces.mentions.iter().enumerate().find(|(i, m)| {
                    in_clause(m.start)
                        && !claimed[*i]
                        && self.vocabulary.entries()[m.variables[0]].kind
                            == VariableKind::Categorical
                }) {
                    let entry = &self.vocabulary.entries()[mention.1.variables[0]];
                    return Err(self.clarify(
                        lang.say(
                            &format!("Changes limited to some units (\"in {}…\") are not understood in questions yet; ask about all units, or send a query with `only_where` to the API.", entry.label),
                            &format!("還不能理解只限部分單位的調整（「{}…」）；請對全部單位提問，或用 API 傳送含 `only_where` 的查詢。", entry.label),
                        ),
                        vec![entry.name.clone()],
                    ));
                }
            }
        }

        // Amounts no action took: "TV -10%" (a signed change of a named variable) or
        // "and if by 20%?" (the last question's levers, by a new amount).
        let loose: Vec<Amount> = pieces
            .amounts
            .iter()
            .enumerate()
            .filter(|(i, _)| !amount_used[*i])
            .map(|(_, a)| a.clone())
            .collect();
        let mut unclaimed: Vec<usize> = (0..pieces.mentions.len())
            .filter(|&i| !claimed[i])
            .collect();
        if levers.is_empty() && amendments.is_empty() {
            if let Some(amount) = loose.first() {
                let signed_lever = unclaimed.iter().position(|&i| {
                    let entry = &self.vocabulary.entries()[pieces.mentions[i].variables[0]];
                    entry.role == Role::Lever && pieces.mentions[i].end <= amount.start
                });
                match (signed_lever, amount.sign) {
                    (Some(p), Some(_)) => {
                        let i = unclaimed.remove(p);
                        let entry = &self.vocabulary.entries()[pieces.mentions[i].variables[0]];
                        levers.push(self.intervention(
                            entry,
                            Action::Change,
                            Some(amount),
                            false,
                            text,
                            pieces.mentions[i].end,
                            lang,
                        )?);
                    }
                    _ if last.is_some() => amendments.push((None, Some(amount.clone()))),
                    (Some(p), None) => {
                        let entry =
                            &self.vocabulary.entries()[pieces.mentions[unclaimed[p]].variables[0]];
                        return Err(self.clarify(
                            lang.say(
                                &format!(
                                    "Should {} go up or down by {}?",
                                    entry.label,
                                    amount.describe()
                                ),
                                &format!("{}要增加還是減少 {}？", entry.label, amount.describe()),
                            ),
                            vec![entry.name.clone()],
                        ));
                    }
                    _ => {}
                }
            }
        }

        // "What about search?" after a question about TV: the same change, on
        // another lever.
        let mut replaced_lever = false;
        if levers.is_empty() && amendments.is_empty() {
            if let Some(previous) = last.and_then(|q| q.interventions.first()) {
                if let Some(p) = unclaimed.iter().position(|&i| {
                    self.vocabulary.entries()[pieces.mentions[i].variables[0]].role == Role::Lever
                }) {
                    let i = unclaimed.remove(p);
                    let entry = &self.vocabulary.entries()[pieces.mentions[i].variables[0]];
                    levers.push(Intervention {
                        variable: entry.name.clone(),
                        label: None,
                        ..previous.clone()
                    });
                    replaced_lever = true;
                }
            }
        }
        for i in unclaimed {
            targets.push(
                self.vocabulary.entries()[pieces.mentions[i].variables[0]]
                    .name
                    .clone(),
            );
        }

        let followup = last.is_some() && (is_followup(text) || levers.is_empty());
        let mut interventions = if !amendments.is_empty() {
            let Some(last) = last else {
                return Err(self.clarify(self.ask_for_a_lever(lang), self.levers()));
            };
            let mut amended = Vec::new();
            for previous in &last.interventions {
                let (action, amount) = amendments[0].clone();
                amended.push(self.amend(previous, action, amount.as_ref(), lang)?);
            }
            amended
        } else if !levers.is_empty() {
            match last {
                Some(last) if adds_to_last(text) && !replaced_lever => {
                    let mut merged: Vec<Intervention> = last
                        .interventions
                        .iter()
                        .filter(|p| !levers.iter().any(|l| l.variable == p.variable))
                        .cloned()
                        .collect();
                    merged.append(&mut levers);
                    merged
                }
                _ => levers,
            }
        } else if let Some(last) = last {
            last.interventions.clone()
        } else if !targets.is_empty() || which {
            let listed = self.describe_names(&self.levers());
            return Err(self.clarify(
                lang.say(
                    &format!("Which lever should change, and by how much? The levers of this model are: {listed}."),
                    &format!("要調整哪個槓桿、調整多少？這個模型的槓桿有：{listed}。"),
                ),
                self.levers(),
            ));
        } else {
            return Err(self.clarify(self.ask_for_a_lever(lang), self.levers()));
        };
        // One change per variable: the later one wins.
        let mut seen = std::collections::HashSet::new();
        interventions.reverse();
        interventions.retain(|i| seen.insert(i.variable.clone()));
        interventions.reverse();

        let mut unique_targets = Vec::new();
        for target in targets {
            if !unique_targets.contains(&target) {
                unique_targets.push(target);
            }
        }
        let targets = if which {
            None
        } else if !unique_targets.is_empty() {
            Some(unique_targets)
        } else if followup {
            last.and_then(|q| q.targets.clone())
        } else {
            None
        };
        Ok(WhatIfQuery {
            model: last.and_then(|q| q.model.clone()),
            interventions,
            targets,
            unit: last.and_then(|q| q.unit),
        })
    }

    /// The intervention an action with an amount makes on one variable.
    #[allow(clippy::too_many_arguments)]
    fn intervention(
        &self,
        entry: &Entry,
        action: Action,
        amount: Option<&Amount>,
        to_set: bool,
        text: &str,
        after: usize,
        lang: Lang,
    ) -> Result<Intervention, Parsed> {
        let name = entry.name.as_str();
        let binary = entry.kind == VariableKind::Binary;
        let need_amount = || {
            self.clarify(
                lang.say(
                    &format!(
                        "By how much should {} change? For example \"by 10%\" or \"to 12\".",
                        entry.label
                    ),
                    &format!("{}要調整多少？例如「減少10%」或「設為12」。", entry.label),
                ),
                vec![name.to_string()],
            )
        };
        let set_value = |amount: &Amount| -> f64 {
            let value = amount.signed();
            match amount.kind {
                AmountKind::Percent if !unit_is_percent(entry) => value / 100.0,
                _ => value,
            }
        };
        let setting = action == Action::Set
            || (to_set && matches!(action, Action::Change | Action::Decrease | Action::Increase));
        if setting {
            return match amount {
                Some(amount) => Ok(Intervention::new(name, Op::Set, set_value(amount))),
                None if entry.kind == VariableKind::Categorical => match label_after(text, after) {
                    Some(label) => Ok(Intervention::set_label(name, &label)),
                    None => Err(need_amount()),
                },
                None => Err(need_amount()),
            };
        }
        let direction = match action {
            Action::Factor(f) => return Ok(Intervention::new(name, Op::Scale, f)),
            Action::On => return Ok(Intervention::new(name, Op::Set, 1.0)),
            Action::Off => return Ok(Intervention::new(name, Op::Set, 0.0)),
            Action::Change => match amount.and_then(|a| a.sign) {
                Some(sign) => sign,
                None => {
                    return Err(self.clarify(
                        lang.say(
                            &format!("Should {} go up or down?", entry.label),
                            &format!("{}要增加還是減少？", entry.label),
                        ),
                        vec![name.to_string()],
                    ))
                }
            },
            Action::Decrease => -1.0,
            // `Set` returned above.
            Action::Increase | Action::Set => 1.0,
        };
        let Some(amount) = amount else {
            if binary {
                return Ok(Intervention::new(
                    name,
                    Op::Set,
                    if direction > 0.0 { 1.0 } else { 0.0 },
                ));
            }
            return Err(need_amount());
        };
        self.change(name, direction, amount, lang)
    }

    /// `direction` (±1) times `amount`: a scale for a percent, a shift otherwise.
    fn change(
        &self,
        name: &str,
        direction: f64,
        amount: &Amount,
        lang: Lang,
    ) -> Result<Intervention, Parsed> {
        match amount.kind {
            AmountKind::Percent => {
                if direction < 0.0 && amount.value > 100.0 {
                    return Err(self.clarify(
                        lang.say(
                            &format!(
                                "{name} cannot be cut by more than 100% ({}).",
                                amount.describe()
                            ),
                            &format!("{name} 不能減少超過 100%（{}）。", amount.describe()),
                        ),
                        vec![name.to_string()],
                    ));
                }
                Ok(Intervention::new(
                    name,
                    Op::Scale,
                    round(1.0 + direction * amount.value / 100.0),
                ))
            }
            AmountKind::Absolute => {
                Ok(Intervention::new(name, Op::Shift, direction * amount.value))
            }
        }
    }

    /// The last question's intervention with a new action or amount.
    fn amend(
        &self,
        previous: &Intervention,
        action: Option<Action>,
        amount: Option<&Amount>,
        lang: Lang,
    ) -> Result<Intervention, Parsed> {
        let name = previous.variable.as_str();
        let previous_direction = match previous.op {
            Op::Scale if previous.value < 1.0 => -1.0,
            Op::Shift if previous.value < 0.0 => -1.0,
            _ => 1.0,
        };
        let direction = match (action, amount.and_then(|a| a.sign)) {
            (Some(Action::Decrease), _) => -1.0,
            (Some(Action::Increase), _) => 1.0,
            (Some(Action::Factor(f)), _) => return Ok(Intervention::new(name, Op::Scale, f)),
            (Some(Action::On), _) => return Ok(Intervention::new(name, Op::Set, 1.0)),
            (Some(Action::Off), _) => return Ok(Intervention::new(name, Op::Set, 0.0)),
            (_, Some(sign)) => sign,
            _ => previous_direction,
        };
        let Some(amount) = amount else {
            return Err(self.clarify(
                lang.say(
                    &format!("By how much should {name} change?"),
                    &format!("{name}要調整多少？"),
                ),
                vec![name.to_string()],
            ));
        };
        if action == Some(Action::Set) || (previous.op == Op::Set && action.is_none()) {
            let percent_unit = self.vocabulary.get(name).is_some_and(unit_is_percent);
            let value = match amount.kind {
                AmountKind::Percent if !percent_unit => amount.signed() / 100.0,
                _ => amount.signed(),
            };
            return Ok(Intervention::new(name, Op::Set, value));
        }
        let mut changed = self.change(name, direction, amount, lang)?;
        changed.only_where = previous.only_where.clone();
        Ok(changed)
    }
}

/// Rounds away the binary noise of `1 - 0.1`-style arithmetic (0.9000000000000001).
fn round(x: f64) -> f64 {
    (x * 1e12).round() / 1e12
}

fn unit_is_percent(entry: &Entry) -> bool {
    entry
        .unit
        .as_deref()
        .is_some_and(|u| u.contains('%') || u.to_lowercase().contains("percent"))
}

/// The language replies are written in: Chinese when the question has CJK
/// characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lang {
    English,
    Chinese,
}

impl Lang {
    fn of(text: &str) -> Lang {
        if text.chars().any(is_cjk) {
            Lang::Chinese
        } else {
            Lang::English
        }
    }

    fn say(self, english: &str, chinese: &str) -> String {
        match self {
            Lang::English => english.to_string(),
            Lang::Chinese => chinese.to_string(),
        }
    }
}

/// What an action word does to its lever.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Action {
    Decrease,
    Increase,
    /// `set`, `設為`: to a value.
    Set,
    /// `change`, `adjust`: a direction must come from "to" or a sign.
    Change,
    /// `double`, `halve`, `減半`: multiply by a fixed factor.
    Factor(f64),
    /// `turn on`, `run`, `開啟`: a binary lever to 1.
    On,
    /// `turn off`, `stop`, `取消`: a binary lever to 0.
    Off,
}

/// Action words. Latin ones match whole words; CJK ones anywhere. Longer words are
/// tried first, so `減半` wins over `減` and `scale back` over `back`.
const ACTIONS: &[(&str, Action)] = &[
    ("cut in half", Action::Factor(0.5)),
    ("cut", Action::Decrease),
    ("cuts", Action::Decrease),
    ("cutting", Action::Decrease),
    ("reduce", Action::Decrease),
    ("reduces", Action::Decrease),
    ("reduced", Action::Decrease),
    ("reducing", Action::Decrease),
    ("lower", Action::Decrease),
    ("lowered", Action::Decrease),
    ("lowering", Action::Decrease),
    ("decrease", Action::Decrease),
    ("decreased", Action::Decrease),
    ("decreasing", Action::Decrease),
    ("drop", Action::Decrease),
    ("dropped", Action::Decrease),
    ("dropping", Action::Decrease),
    ("slash", Action::Decrease),
    ("slashing", Action::Decrease),
    ("trim", Action::Decrease),
    ("trimmed", Action::Decrease),
    ("trimming", Action::Decrease),
    ("slashed", Action::Decrease),
    ("shrank", Action::Decrease),
    ("decreases", Action::Decrease),
    ("lowers", Action::Decrease),
    ("drops", Action::Decrease),
    ("shrink", Action::Decrease),
    ("scale back", Action::Decrease),
    ("scale down", Action::Decrease),
    ("pull back", Action::Decrease),
    ("less", Action::Decrease),
    ("down", Action::Decrease),
    ("raise", Action::Increase),
    ("raised", Action::Increase),
    ("raising", Action::Increase),
    ("increase", Action::Increase),
    ("increased", Action::Increase),
    ("increasing", Action::Increase),
    ("boost", Action::Increase),
    ("boosted", Action::Increase),
    ("boosting", Action::Increase),
    ("grow", Action::Increase),
    ("growing", Action::Increase),
    ("lift", Action::Increase),
    ("lifted", Action::Increase),
    ("expand", Action::Increase),
    ("expanded", Action::Increase),
    ("hike", Action::Increase),
    ("hiked", Action::Increase),
    ("raises", Action::Increase),
    ("increases", Action::Increase),
    ("boosts", Action::Increase),
    ("grew", Action::Increase),
    ("bump up", Action::Increase),
    ("bump", Action::Increase),
    ("ramp up", Action::Increase),
    ("step up", Action::Increase),
    ("up", Action::Increase),
    ("more", Action::Increase),
    ("add", Action::Increase),
    ("set", Action::Set),
    ("change", Action::Change),
    ("adjust", Action::Change),
    ("move", Action::Change),
    ("put", Action::Change),
    ("make", Action::Change),
    ("double", Action::Factor(2.0)),
    ("doubled", Action::Factor(2.0)),
    ("doubling", Action::Factor(2.0)),
    ("triple", Action::Factor(3.0)),
    ("tripled", Action::Factor(3.0)),
    ("halve", Action::Factor(0.5)),
    ("halved", Action::Factor(0.5)),
    ("halving", Action::Factor(0.5)),
    ("turn on", Action::On),
    ("switch on", Action::On),
    ("run", Action::On),
    ("launch", Action::On),
    ("start", Action::On),
    ("turn off", Action::Off),
    ("switch off", Action::Off),
    ("stop", Action::Off),
    ("cancel", Action::Off),
    ("end", Action::Off),
    ("減少", Action::Decrease),
    ("降低", Action::Decrease),
    ("調低", Action::Decrease),
    ("調降", Action::Decrease),
    ("下調", Action::Decrease),
    ("削減", Action::Decrease),
    ("縮減", Action::Decrease),
    ("刪減", Action::Decrease),
    ("減低", Action::Decrease),
    ("壓低", Action::Decrease),
    ("下降", Action::Decrease),
    ("少花", Action::Decrease),
    ("減", Action::Decrease),
    ("降", Action::Decrease),
    ("砍", Action::Decrease),
    ("增加", Action::Increase),
    ("提高", Action::Increase),
    ("調高", Action::Increase),
    ("調升", Action::Increase),
    ("上調", Action::Increase),
    ("提升", Action::Increase),
    ("加大", Action::Increase),
    ("拉高", Action::Increase),
    ("多花", Action::Increase),
    ("增", Action::Increase),
    ("加", Action::Increase),
    ("設為", Action::Set),
    ("設成", Action::Set),
    ("設定為", Action::Set),
    ("設定成", Action::Set),
    ("改為", Action::Set),
    ("改成", Action::Set),
    ("定為", Action::Set),
    ("調整為", Action::Set),
    ("調整到", Action::Set),
    ("調到", Action::Set),
    ("調整", Action::Change),
    ("改變", Action::Change),
    ("加倍", Action::Factor(2.0)),
    ("翻倍", Action::Factor(2.0)),
    ("倍增", Action::Factor(2.0)),
    ("減半", Action::Factor(0.5)),
    ("砍半", Action::Factor(0.5)),
    ("開啟", Action::On),
    ("啟動", Action::On),
    ("推出", Action::On),
    ("舉辦", Action::On),
    ("實施", Action::On),
    ("關閉", Action::Off),
    ("取消", Action::Off),
    ("停止", Action::Off),
    ("停掉", Action::Off),
    ("暫停", Action::Off),
];

/// Words that are not actions although they contain one (多少 holds no 少, 增加
/// is handled above; 加盟 is not 加).
const NOT_ACTIONS: &[&str] = &[
    "多少",
    "加盟",
    "更加",
    "增加到多少",
    "at least",
    "upstream",
    "downstream",
];

/// What a cue says about the clause it opens or closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CueKind {
    /// English: the words after it are a target ("what happens to …").
    TargetAfter,
    /// Chinese: the words before it are a target (「…會怎樣」).
    TargetBefore,
    /// "Which KPIs are affected?": every KPI downstream.
    Which,
    /// "if": a new clause with the levers.
    If,
}

const CUES: &[(&str, CueKind)] = &[
    ("what would happen to", CueKind::TargetAfter),
    ("what will happen to", CueKind::TargetAfter),
    ("what happens to", CueKind::TargetAfter),
    ("what happens with", CueKind::TargetAfter),
    ("what happened to", CueKind::TargetAfter),
    ("happen to", CueKind::TargetAfter),
    ("happens to", CueKind::TargetAfter),
    ("effect on", CueKind::TargetAfter),
    ("effects on", CueKind::TargetAfter),
    ("impact on", CueKind::TargetAfter),
    ("impacts on", CueKind::TargetAfter),
    ("what about", CueKind::TargetAfter),
    ("how about", CueKind::TargetAfter),
    ("how does", CueKind::TargetAfter),
    ("how do", CueKind::TargetAfter),
    ("how would", CueKind::TargetAfter),
    ("how will", CueKind::TargetAfter),
    ("how much would", CueKind::TargetAfter),
    ("how much will", CueKind::TargetAfter),
    ("how much does", CueKind::TargetAfter),
    ("affect", CueKind::TargetAfter),
    ("which kpis", CueKind::Which),
    ("which kpi", CueKind::Which),
    ("what kpis", CueKind::Which),
    ("which metrics", CueKind::Which),
    ("what metrics", CueKind::Which),
    ("which outcomes", CueKind::Which),
    ("what changes", CueKind::Which),
    ("what else changes", CueKind::Which),
    ("what is affected", CueKind::Which),
    ("what's affected", CueKind::Which),
    ("what gets affected", CueKind::Which),
    ("what would be affected", CueKind::Which),
    ("which are affected", CueKind::Which),
    ("哪些kpi", CueKind::Which),
    ("哪些 kpi", CueKind::Which),
    ("哪些指標", CueKind::Which),
    ("什麼kpi", CueKind::Which),
    ("影響哪些", CueKind::Which),
    ("影響什麼", CueKind::Which),
    ("哪些會受影響", CueKind::Which),
    ("會怎麼樣", CueKind::TargetBefore),
    ("會怎樣", CueKind::TargetBefore),
    ("會如何", CueKind::TargetBefore),
    ("怎麼變", CueKind::TargetBefore),
    ("會變多少", CueKind::TargetBefore),
    ("會有什麼變化", CueKind::TargetBefore),
    ("有什麼變化", CueKind::TargetBefore),
    ("有什麼影響", CueKind::TargetBefore),
    ("有何影響", CueKind::TargetBefore),
    ("的影響", CueKind::TargetBefore),
    ("受影響", CueKind::TargetBefore),
    ("呢", CueKind::TargetBefore),
    ("if", CueKind::If),
    ("when", CueKind::If),
    ("after", CueKind::If),
    ("what if", CueKind::If),
    ("如果", CueKind::If),
    ("假如", CueKind::If),
    ("要是", CueKind::If),
];

/// A found action word.
#[derive(Clone, Debug)]
struct Verb {
    start: usize,
    end: usize,
    action: Action,
    /// A Chinese word: its lever is usually before it (「把X減少」).
    cjk: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AmountKind {
    Percent,
    Absolute,
}

/// A found amount: a magnitude, with the sign written in front of it if any.
#[derive(Clone, Debug, PartialEq)]
struct Amount {
    start: usize,
    end: usize,
    value: f64,
    kind: AmountKind,
    sign: Option<f64>,
}

impl Amount {
    fn signed(&self) -> f64 {
        self.value * self.sign.unwrap_or(1.0)
    }

    fn describe(&self) -> String {
        let number = causeway_estimators::format::number(self.value);
        match self.kind {
            AmountKind::Percent => format!("{number}%"),
            AmountKind::Absolute => number,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClauseKind {
    Normal,
    Target,
    Which,
}

#[derive(Clone, Debug)]
struct Clause {
    start: usize,
    end: usize,
    kind: ClauseKind,
}

/// Everything found in one normalised question, by byte position.
struct Pieces<'t> {
    text: &'t str,
    mentions: Vec<Mention>,
    amounts: Vec<Amount>,
    verbs: Vec<Verb>,
    cues: Vec<(usize, usize, CueKind)>,
}

impl<'t> Pieces<'t> {
    fn find(text: &'t str, vocabulary: &Vocabulary) -> Self {
        let mentions = vocabulary.mentions(text);
        let mut taken: Vec<(usize, usize)> = mentions.iter().map(|m| (m.start, m.end)).collect();
        let amounts = find_amounts(text, &taken);
        taken.extend(amounts.iter().map(|a| (a.start, a.end)));
        let cues = find_words(text, CUES, &mut taken);
        let mut blocked = taken.clone();
        let _ = find_words(
            text,
            &NOT_ACTIONS.iter().map(|w| (*w, ())).collect::<Vec<_>>(),
            &mut blocked,
        );
        let verbs = find_words(text, ACTIONS, &mut blocked)
            .into_iter()
            .map(|(start, end, action)| Verb {
                start,
                end,
                action,
                cjk: text[start..end].chars().any(is_cjk),
            })
            .collect();
        Pieces {
            text,
            mentions,
            amounts,
            verbs,
            cues,
        }
    }

    /// The clauses: cut at punctuation, before an English target cue, "which
    /// KPIs" or "if", and after a Chinese target cue.
    fn clauses(&self) -> Vec<Clause> {
        let text = self.text;
        let mut cuts: Vec<usize> = vec![0, text.len()];
        let inside_amount = |at: usize| self.amounts.iter().any(|a| at > a.start && at < a.end);
        for (at, c) in text.char_indices() {
            if matches!(
                c,
                ',' | '?' | '!' | ';' | ':' | '\n' | '。' | '；' | '！' | '.'
            ) && !inside_amount(at)
            {
                cuts.push(at);
                cuts.push(at + c.len_utf8());
            }
        }
        for &(start, end, kind) in &self.cues {
            match kind {
                CueKind::TargetAfter | CueKind::Which | CueKind::If => cuts.push(start),
                CueKind::TargetBefore => cuts.push(end),
            }
        }
        cuts.sort_unstable();
        cuts.dedup();
        let mut clauses = Vec::new();
        for pair in cuts.windows(2) {
            let (start, end) = (pair[0], pair[1]);
            if text[start..end].trim().is_empty() {
                continue;
            }
            let cues: Vec<CueKind> = self
                .cues
                .iter()
                .filter(|(s, _, _)| *s >= start && *s < end)
                .map(|(_, _, k)| *k)
                .collect();
            let kind = if cues.contains(&CueKind::Which) {
                ClauseKind::Which
            } else if cues
                .iter()
                .any(|k| matches!(k, CueKind::TargetAfter | CueKind::TargetBefore))
            {
                ClauseKind::Target
            } else {
                ClauseKind::Normal
            };
            // Where the cue opens the clause, its words are not part of a phrase.
            let start = self
                .cues
                .iter()
                .filter(|(s, _, k)| *s == start && *k != CueKind::TargetBefore)
                .map(|(_, e, _)| *e)
                .max()
                .unwrap_or(start);
            let end = self
                .cues
                .iter()
                .filter(|(_, e, k)| *e == end && *k == CueKind::TargetBefore)
                .map(|(s, _, _)| *s)
                .min()
                .unwrap_or(end);
            if start < end {
                clauses.push(Clause { start, end, kind });
            }
        }
        clauses
    }
}

/// Finds `words` in `text` (whole words for Latin ones), longest first, skipping
/// spans already `taken`, which it extends.
fn find_words<T: Copy>(
    text: &str,
    words: &[(&str, T)],
    taken: &mut Vec<(usize, usize)>,
) -> Vec<(usize, usize, T)> {
    let mut order: Vec<&(&str, T)> = words.iter().collect();
    order.sort_by_key(|w| std::cmp::Reverse(w.0.len()));
    let mut found = Vec::new();
    for (word, value) in order {
        for (start, _) in text.match_indices(word) {
            let end = start + word.len();
            if !whole_word(text, start, end) || taken.iter().any(|&(s, e)| start < e && s < end) {
                continue;
            }
            taken.push((start, end));
            found.push((start, end, *value));
        }
    }
    found.sort_by_key(|f| f.0);
    found
}

/// Amounts: `10%`, `+5 %`, `-3`, `$500`, `2.5k`, `1,000`, `10 percent`, `5萬`,
/// `3千`, `一成`, `兩成半`, `百分之十`, `十%`, `half`, `一半`.
fn find_amounts(text: &str, taken: &[(usize, usize)]) -> Vec<Amount> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let offset = |i: usize| chars.get(i).map_or(text.len(), |&(o, _)| o);
    let in_taken = |at: usize| taken.iter().any(|&(s, e)| at >= s && at < e);
    let mut amounts = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let start_i = i;
        let (at, c) = chars[i];
        if in_taken(at) {
            i += 1;
            continue;
        }
        // "half", "by half".
        if text[at..].starts_with("half") && whole_word(text, at, at + 4) {
            amounts.push(Amount {
                start: at,
                end: at + 4,
                value: 50.0,
                kind: AmountKind::Percent,
                sign: None,
            });
            i += 4;
            continue;
        }
        if text[at..].starts_with("一半") {
            amounts.push(Amount {
                start: at,
                end: at + "一半".len(),
                value: 50.0,
                kind: AmountKind::Percent,
                sign: None,
            });
            i += 2;
            continue;
        }
        // 百分之十, 百分之 15
        if text[at..].starts_with("百分之") {
            let mut j = i + 3;
            while chars.get(j).is_some_and(|&(_, c)| c == ' ') {
                j += 1;
            }
            if let Some((value, next)) = read_number(&chars, j) {
                amounts.push(Amount {
                    start: at,
                    end: offset(next),
                    value,
                    kind: AmountKind::Percent,
                    sign: None,
                });
                i = next;
                continue;
            }
        }
        let sign = match c {
            '+' => Some(1.0),
            '-' => Some(-1.0),
            _ => None,
        };
        let mut j = i + usize::from(sign.is_some());
        // A currency sign before the number.
        while chars
            .get(j)
            .is_some_and(|&(_, c)| c == '$' || c == '€' || c == '£' || c == '¥')
        {
            j += 1;
        }
        let number_start = j;
        let english = read_english_number(text, &chars, j);
        let Some((mut value, mut next)) = english.or_else(|| read_number(&chars, j)) else {
            i += 1;
            continue;
        };
        // Digits glued to letters (`q3`, `re78`) are names, not amounts.
        let glued_before =
            number_start > 0 && chars[number_start - 1].1.is_ascii_alphabetic() && sign.is_none();
        // A numeral in words (三, ten) is too often no amount on its own; it needs
        // a unit (三成, ten percent).
        let is_chinese_numeral = english.is_some()
            || chars[number_start].1.is_alphabetic() && !chars[number_start].1.is_ascii();
        if glued_before {
            i = next.max(i + 1);
            continue;
        }
        let rest = |k: usize| &text[offset(k)..];
        let skip_spaces = |mut k: usize| {
            while chars.get(k).is_some_and(|&(_, c)| c == ' ') {
                k += 1;
            }
            k
        };
        let mut kind = AmountKind::Absolute;
        let after = skip_spaces(next);
        let mut matched_unit = false;
        for (unit, chars_len, multiplier, percent) in [
            ("%", 1, 1.0, true),
            ("percent", 7, 1.0, true),
            ("per cent", 8, 1.0, true),
            ("pct", 3, 1.0, true),
            ("成", 1, 10.0, true),
            ("百萬", 2, 1e6, false),
            ("萬", 1, 1e4, false),
            ("千", 1, 1e3, false),
            ("億", 1, 1e8, false),
            ("thousand", 8, 1e3, false),
            ("million", 7, 1e6, false),
            ("billion", 7, 1e9, false),
            ("k", 1, 1e3, false),
            ("m", 1, 1e6, false),
            ("bn", 2, 1e9, false),
            ("cents", 5, 0.01, false),
            ("cent", 4, 0.01, false),
            ("¢", 1, 0.01, false),
        ] {
            let ascii = unit.is_ascii();
            let at_unit = if ascii { after } else { next };
            if rest(at_unit).starts_with(unit) {
                let end = offset(at_unit + chars_len);
                // `2k` is 2000, but `2 kids` is no amount in thousands.
                let glued_after = text[end..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric());
                if ascii && glued_after {
                    continue;
                }
                value *= multiplier;
                next = at_unit + chars_len;
                if percent {
                    kind = AmountKind::Percent;
                    // 一成半 = 15%.
                    if unit == "成" && rest(next).starts_with('半') {
                        value += 5.0;
                        next += 1;
                    }
                }
                matched_unit = true;
                break;
            }
        }
        // Trailing currency words are part of the amount.
        let after = skip_spaces(next);
        for word in ["dollars", "dollar", "usd", "ntd", "元", "塊", "美元"] {
            if rest(after).starts_with(word) {
                next = after + word.chars().count();
                matched_unit = true;
                break;
            }
        }
        // A Chinese numeral alone (三, 十) is too often not an amount; it needs a unit.
        if (is_chinese_numeral && !matched_unit) || !value.is_finite() {
            i = next.max(i + 1);
            continue;
        }
        amounts.push(Amount {
            start: offset(start_i),
            end: offset(next),
            value,
            kind,
            sign,
        });
        i = next.max(i + 1);
    }
    amounts
}

/// A number at `chars[i]`: ASCII digits (with `,` thousands and a `.` fraction) or a
/// Chinese numeral up to the ten-thousands. Returns the value and the index after it.
fn read_number(chars: &[(usize, char)], i: usize) -> Option<(f64, usize)> {
    let first = chars.get(i)?.1;
    if first.is_ascii_digit()
        || (first == '.' && chars.get(i + 1).is_some_and(|c| c.1.is_ascii_digit()))
    {
        let mut j = i;
        let mut digits = String::new();
        while let Some(&(_, c)) = chars.get(j) {
            if c.is_ascii_digit() {
                digits.push(c);
            } else if c == ','
                && chars.get(j + 1).is_some_and(|c| c.1.is_ascii_digit())
                && chars.get(j + 2).is_some_and(|c| c.1.is_ascii_digit())
                && chars.get(j + 3).is_some_and(|c| c.1.is_ascii_digit())
                && !digits.contains('.')
            {
                // `1,000`: a thousands separator only before exactly three digits.
                if chars.get(j + 4).is_some_and(|c| c.1.is_ascii_digit()) {
                    break;
                }
            } else if c == '.'
                && !digits.contains('.')
                && chars.get(j + 1).is_some_and(|c| c.1.is_ascii_digit())
            {
                digits.push('.');
            } else {
                break;
            }
            j += 1;
            if digits.len() > 30 {
                break;
            }
        }
        return digits.parse::<f64>().ok().map(|v| (v, j));
    }
    read_chinese_number(chars, i)
}

/// English number words before a unit: `ten`, `twenty five`, `a hundred`.
fn read_english_number(text: &str, chars: &[(usize, char)], i: usize) -> Option<(f64, usize)> {
    const WORDS: &[(&str, f64)] = &[
        ("zero", 0.0),
        ("one", 1.0),
        ("two", 2.0),
        ("three", 3.0),
        ("four", 4.0),
        ("five", 5.0),
        ("six", 6.0),
        ("seven", 7.0),
        ("eight", 8.0),
        ("nine", 9.0),
        ("ten", 10.0),
        ("eleven", 11.0),
        ("twelve", 12.0),
        ("thirteen", 13.0),
        ("fourteen", 14.0),
        ("fifteen", 15.0),
        ("sixteen", 16.0),
        ("seventeen", 17.0),
        ("eighteen", 18.0),
        ("nineteen", 19.0),
        ("twenty", 20.0),
        ("thirty", 30.0),
        ("forty", 40.0),
        ("fifty", 50.0),
        ("sixty", 60.0),
        ("seventy", 70.0),
        ("eighty", 80.0),
        ("ninety", 90.0),
    ];
    let (start, first) = *chars.get(i)?;
    let glued = i > 0 && chars[i - 1].1.is_ascii_alphanumeric();
    if !first.is_ascii_alphabetic() || glued {
        return None;
    }
    let mut at = start;
    let mut value: Option<f64> = None;
    loop {
        let rest = &text[at..];
        let word_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let word = &rest[..word_len];
        let number = if word == "hundred" {
            value.map(|v| v * 100.0).or(Some(100.0))
        } else if word == "a" && value.is_none() && rest[word_len..].starts_with(" hundred") {
            Some(0.0)
        } else {
            WORDS
                .iter()
                .find(|(w, _)| *w == word)
                .map(|(_, n)| value.unwrap_or(0.0) + n)
        };
        let Some(number) = number.filter(|_| word_len > 0) else {
            break;
        };
        value = Some(number);
        at += word_len;
        if text[at..].starts_with(' ')
            && text[at + 1..].starts_with(|c: char| c.is_ascii_alphabetic())
        {
            // Look past the space only if another number word follows.
            let next = &text[at + 1..];
            let next_len = next
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(next.len());
            let next_word = &next[..next_len];
            if next_word == "hundred" || WORDS.iter().any(|(w, _)| *w == next_word) {
                at += 1;
                continue;
            }
        }
        break;
    }
    let value = value?;
    let end = chars.partition_point(|&(o, _)| o < at);
    Some((value, end))
}

fn read_chinese_number(chars: &[(usize, char)], i: usize) -> Option<(f64, usize)> {
    let digit = |c: char| match c {
        '零' | '〇' => Some(0.0),
        '一' => Some(1.0),
        '二' | '兩' => Some(2.0),
        '三' => Some(3.0),
        '四' => Some(4.0),
        '五' => Some(5.0),
        '六' => Some(6.0),
        '七' => Some(7.0),
        '八' => Some(8.0),
        '九' => Some(9.0),
        _ => None,
    };
    let mut j = i;
    let mut total = 0.0;
    let mut section = 0.0;
    let mut current: Option<f64> = None;
    while let Some(&(_, c)) = chars.get(j) {
        if let Some(d) = digit(c) {
            current = Some(d);
        } else {
            let unit = match c {
                '十' => 10.0,
                '百' => 100.0,
                '千' => 1000.0,
                _ => break,
            };
            // 十 alone is 10; 十五 is 15.
            section += current.unwrap_or(1.0) * unit;
            current = None;
            // 千 and 萬 after a numeral may be a unit of the amount (三千 = 3000 is
            // read here; 五萬 is left to the caller's units).
        }
        j += 1;
    }
    if j == i {
        return None;
    }
    section += current.unwrap_or(0.0);
    total += section;
    Some((total, j))
}

/// Whether the words between a lever and its amount make it a target value
/// ("to 12", 「到12」) rather than a change ("by 12").
fn says_to(gap: &str) -> bool {
    let gap = gap.trim();
    gap.split(' ').any(|w| w == "to" || w == "at")
        || gap.ends_with('到')
        || gap.ends_with('至')
        || gap.ends_with('為')
        || gap.ends_with('成')
}

/// The label after "to" / 為 / 成 for setting a categorical lever: `north`.
fn label_after(text: &str, from: usize) -> Option<String> {
    let rest = text.get(from..)?;
    let rest = rest.trim_start();
    let rest = ["to ", "at ", "為", "成", "到"]
        .iter()
        .find_map(|p| rest.strip_prefix(p))?
        .trim_start();
    let label: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    (!label.is_empty()).then_some(label)
}

/// The connectors that join several levers or targets.
const CONNECTORS: &[&str] = &[
    " and ", " or ", "&", "和", "與", "跟", "以及", "及", "、", "/", "還有",
];

/// After (or before) the levers an action named, a phrase joined to them by a
/// connector: ` and radio budgets by ` → `radio`.
fn joined_phrase(rest: &str) -> Option<String> {
    let padded = format!(" {rest} ");
    let (at, connector) = CONNECTORS
        .iter()
        .filter_map(|c| padded.find(c).map(|at| (at, *c)))
        .min_by_key(|(at, _)| *at)?;
    // Forward: what follows the connector; backward (Chinese, before the levers):
    // what precedes it.
    let after = strip_fillers(&padded[at + connector.len()..]);
    let before = strip_fillers(&padded[..at]);
    let phrase = if after.is_empty() { before } else { after };
    (!phrase.is_empty()).then_some(phrase)
}

/// The parts of a target clause, split at connectors, that hold words other than
/// the model's terms, actions, amounts, cues and fillers: "sales and profit" →
/// `profit`; "stor sales" → `stor sales` (a typo around an exact alias, which the
/// fuzzy lookup then reads as a whole).
fn leftover_phrases(pieces: &Pieces<'_>, clause: &Clause) -> Vec<String> {
    let text = pieces.text;
    let mut blanks: Vec<(usize, usize)> = pieces.verbs.iter().map(|v| (v.start, v.end)).collect();
    blanks.extend(pieces.amounts.iter().map(|a| (a.start, a.end)));
    blanks.extend(pieces.cues.iter().map(|c| (c.0, c.1)));
    let inside =
        |spans: &[(usize, usize)], at: usize| spans.iter().any(|&(s, e)| at >= s && at < e);
    let terms: Vec<(usize, usize)> = pieces.mentions.iter().map(|m| (m.start, m.end)).collect();
    // Two renderings of the clause: with the terms, and without them.
    let (mut with_terms, mut without_terms) = (String::new(), String::new());
    for (at, c) in text[clause.start..clause.end].char_indices() {
        let at = clause.start + at;
        if inside(&blanks, at) {
            with_terms.push_str(" / ");
            without_terms.push_str(" / ");
        } else if inside(&terms, at) {
            with_terms.push(c);
            without_terms.push(if c == ' ' { ' ' } else { '\u{1}' });
        } else {
            with_terms.push(c);
            without_terms.push(c);
        }
    }
    let split = |text: &str| -> Vec<String> {
        let mut parts = vec![text.to_string()];
        for connector in CONNECTORS {
            parts = parts
                .iter()
                .flat_map(|p| p.split(connector).map(str::to_string).collect::<Vec<_>>())
                .collect();
        }
        parts
    };
    // Connectors are ASCII or CJK words that never overlap a term's placeholder,
    // so both renderings split into the same parts.
    let full = split(&with_terms);
    let bare = split(&without_terms);
    if full.len() != bare.len() {
        return Vec::new();
    }
    full.iter()
        .zip(&bare)
        .filter(|(_, bare)| !strip_fillers(&bare.replace('\u{1}', " ")).is_empty())
        .map(|(full, _)| strip_fillers(full))
        .filter(|p| !p.is_empty())
        .collect()
}

/// Joins two variables into one action's group: "and", "&", 和, 與, 跟, 及, 、.
fn is_connector(gap: &str) -> bool {
    let gap = gap.trim();
    let gap = gap.strip_suffix(" the").unwrap_or(gap);
    matches!(
        gap,
        "and" | "&" | "or" | "and also" | "和" | "與" | "跟" | "及" | "以及" | "、" | "/" | "還有"
    )
}

/// Words that carry no name: what is left of a lever or target phrase once they
/// are gone is looked up in the vocabulary.
const FILLERS: &[&str] = &[
    "we", "the", "our", "if", "what", "and", "a", "an", "it", "its", "that", "this", "them",
    "they", "also", "too", "instead", "again", "then", "so", "us", "you", "i", "my", "your",
    "let's", "lets", "would", "will", "should", "could", "can", "happen", "happens", "on", "for",
    "of", "in", "by", "to", "is", "are", "be", "do", "does", "with", "all", "spending", "spend",
    "budget", "total", "level", "now", "just", "same", "please", "there", "change", "changes",
    "move", "get", "much", "about", "kpis", "kpi", "metrics", "things", "else",
];
const CJK_FILLERS: &[&str] = &[
    "我們", "我", "那麼", "那", "把", "將", "的話", "的", "再", "也", "都", "呢", "嗎", "則", "對",
    "會", "它", "這個", "預算", "費用", "支出", "如果", "假如", "要是", "若", "稍微", "一下", "又",
    "?", "？", "，", "。",
];

/// What remains of `phrase` once fillers and punctuation are gone.
fn strip_fillers(phrase: &str) -> String {
    let mut text: String = phrase
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '\'' || c == ' ' {
                c
            } else {
                ' '
            }
        })
        .collect();
    for filler in CJK_FILLERS {
        text = text.replace(filler, " ");
    }
    text.split(' ')
        .filter(|w| !w.is_empty() && !FILLERS.contains(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The words where an action's lever should be, when no term of the model is
/// there: after an English action up to "by"/"to"/the amount, before a Chinese one
/// (after 把/將 when present).
fn object_phrase(
    text: &str,
    verb: &Verb,
    lower: usize,
    upper: usize,
    amount: Option<&Amount>,
) -> String {
    let after_end = amount
        .filter(|a| a.start >= verb.end)
        .map_or(upper, |a| a.start)
        .min(upper);
    let after = text.get(verb.end..after_end).unwrap_or("");
    let after = strip_fillers(after);
    let before = text.get(lower..verb.start).unwrap_or("");
    let before = match before.rfind(['把', '將']) {
        Some(p) => &before[p..],
        None => before,
    };
    let before = strip_fillers(before);
    if verb.cjk {
        if before.is_empty() {
            after
        } else {
            before
        }
    } else if after.is_empty() {
        before
    } else {
        after
    }
}

/// Opens like a follow-up ("and if …", "what about …", 「那…」): the last question's
/// targets carry over when it names none.
fn is_followup(text: &str) -> bool {
    let starts = [
        "and ",
        "and,",
        "also",
        "then",
        "what about",
        "how about",
        "now ",
        "same",
        "那",
        "還有",
        "再",
        "改成",
        "換成",
    ];
    starts.iter().any(|s| text.starts_with(s))
        || text.contains("instead")
        || text.contains("呢")
        || adds_to_last(text)
}

/// Adds its levers to the last question's ("… too", "also …", 「也」, 「同時」).
fn adds_to_last(text: &str) -> bool {
    let words = ["too", "also", "as well", "in addition", "on top"];
    words.iter().any(|w| {
        text.match_indices(w)
            .any(|(s, _)| whole_word(text, s, s + w.len()))
    }) || ["也", "同時", "另外", "再加上"]
        .iter()
        .any(|w| text.contains(w))
}

#[cfg(test)]
mod tests;
