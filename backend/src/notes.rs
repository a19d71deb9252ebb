//! What people call a model's variables: the notes file of `causeway fit --notes`
//! and of the fit form's `notes` upload. It is TOML with one table per variable,
//! e.g. `[tv_spend]` `label = "TV advertising"` `aliases = ["TV ads", "電視廣告"]`
//! `unit = "USD"`; the chat finds variables by these names.

use std::collections::BTreeMap;

use causeway_estimators::scm::document::VariableNotes;
use serde::Deserialize;

/// One variable's entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteEntry {
    label: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    unit: Option<String>,
}

/// Parses notes `text` (from `source`, for messages); every table must name one of
/// `variables`, with the nearest name suggested otherwise. The error is one line.
pub fn parse(
    text: &str,
    source: &str,
    variables: &[&str],
) -> Result<BTreeMap<String, VariableNotes>, String> {
    let entries: BTreeMap<String, NoteEntry> = toml::from_str(text)
        .map_err(|e| format!("{source}: {}", e.to_string().trim().replace('\n', " ")))?;
    let mut notes = BTreeMap::new();
    for (name, entry) in entries {
        if !variables.contains(&name.as_str()) {
            return Err(format!(
                "{source}: {}",
                causeway_estimators::Error::unknown_variable(&name, variables.iter().copied())
            ));
        }
        notes.insert(
            name,
            VariableNotes {
                label: entry.label,
                aliases: entry.aliases,
                unit: entry.unit,
            },
        );
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_name_known_variables_and_bad_files_say_where() {
        let notes = parse(
            "[tv]\nlabel = \"TV advertising\"\naliases = [\"電視廣告\"]\nunit = \"USD\"\n",
            "notes.toml",
            &["tv", "sales"],
        )
        .unwrap();
        assert_eq!(notes["tv"].label.as_deref(), Some("TV advertising"));
        assert_eq!(notes["tv"].aliases, ["電視廣告"]);
        let unknown = parse("[sale]\nlabel = \"x\"\n", "notes.toml", &["tv", "sales"]).unwrap_err();
        assert_eq!(
            unknown,
            "notes.toml: unknown variable `sale`; did you mean `sales`?"
        );
        let broken = parse("[tv\n", "notes.toml", &["tv"]).unwrap_err();
        assert!(
            broken.starts_with("notes.toml: ") && !broken.contains('\n'),
            "{broken}"
        );
        let typo = parse("[tv]\nlable = \"x\"\n", "notes.toml", &["tv"]).unwrap_err();
        assert!(typo.contains("lable"), "{typo}");
    }
}
