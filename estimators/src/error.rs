//! The one error type of the estimators crate.
//!
//! Every variant is a mistake a person can act on (a bad file, an unknown variable, a
//! graph that cannot identify the effect, data that cannot support it). Messages are
//! one line, name the file, line and column where the problem came from a file, and
//! suggest the nearest valid name where a name was misspelt.

use std::path::PathBuf;

/// Result with the crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// What went wrong, in terms a user of Causeway understands.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read at all.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file was read but its content is malformed at a known place.
    #[error("{file}:{line}: {}{message}", column.as_ref().map(|c| format!("column `{c}`: ")).unwrap_or_default())]
    Parse {
        file: String,
        line: usize,
        column: Option<String>,
        message: String,
    },
    /// A column has missing values and the caller did not ask to drop them.
    #[error("{file}: column `{column}` has {count} missing value(s) (first on line {first_line}); clean them or pass --drop-missing")]
    MissingValues {
        file: String,
        column: String,
        count: usize,
        first_line: usize,
    },
    /// A name (column, graph node, variable) that does not exist.
    #[error("unknown variable `{name}`{}", suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    UnknownVariable {
        name: String,
        suggestion: Option<String>,
    },
    /// The causal graph has a directed cycle; `cycle` lists it, first node repeated last.
    #[error("the causal graph has a cycle: {}", cycle.join(" -> "))]
    Cyclic { cycle: Vec<String> },
    /// The causal effect cannot be identified from the graph and the observed variables.
    #[error("the effect of `{treatment}` on `{outcome}` is not identifiable: {reason}")]
    NotIdentified {
        treatment: String,
        outcome: String,
        reason: String,
    },
    /// Treated and untreated units do not overlap in their covariates.
    #[error("no overlap between treated and untreated units: {message}")]
    NoOverlap { message: String },
    /// A design matrix is (numerically) rank deficient.
    #[error("singular design: {message}")]
    Singular { message: String },
    /// The data cannot support the requested analysis (constant treatment, text outcome, …).
    #[error("{message}")]
    InvalidData { message: String },
    /// An argument or option is out of its allowed range or inconsistent with others.
    #[error("invalid input: {message}")]
    InvalidInput { message: String },
    /// The caller's [`crate::progress::Progress`] asked the computation to stop.
    #[error("cancelled before it finished")]
    Cancelled,
}

impl Error {
    pub(crate) fn invalid_data(message: impl Into<String>) -> Self {
        Error::InvalidData {
            message: message.into(),
        }
    }

    pub(crate) fn invalid_input(message: impl Into<String>) -> Self {
        Error::InvalidInput {
            message: message.into(),
        }
    }

    /// An [`Error::UnknownVariable`] with the closest of `known` suggested, if any is close.
    pub fn unknown_variable<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Self {
        Error::UnknownVariable {
            name: name.to_string(),
            suggestion: closest_name(name, known).map(str::to_string),
        }
    }
}

/// The name in `known` nearest to `name` by edit distance (case-insensitive), if it is
/// close enough to be a plausible typo: at most a third of the longer name's length.
pub fn closest_name<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wanted = name.to_lowercase();
    known
        .into_iter()
        .map(|k| (levenshtein(&wanted, &k.to_lowercase()), k))
        .filter(|(d, k)| *d * 3 <= wanted.chars().count().max(k.chars().count()).max(3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Edit distance between two strings, counted in characters.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let known = ["treat", "re78", "educ"];
        assert_eq!(closest_name("tret", known), Some("treat"));
        assert_eq!(closest_name("RE78", known), Some("re78"));
        assert_eq!(closest_name("income", known), None);
    }

    #[test]
    fn levenshtein_counts_edits() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("same", "same"), 0);
    }
}
