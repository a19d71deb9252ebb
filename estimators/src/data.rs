//! Tabular data: a CSV file with a header becomes a typed [`Dataset`].
//!
//! Every column is stored as `f64` so estimators can build design matrices without
//! copies of strings: continuous columns as their values, binary columns as 0/1 and
//! categorical columns as the index of their level. Types are inferred from the text
//! (numbers → continuous, two values such as 0/1, true/false or yes/no → binary,
//! anything else → categorical) and can be overridden per column.
//!
//! Categorical columns enter a design matrix one-hot against a reference level (the
//! first level in sorted order), so a model never sees level indices as magnitudes.
//! Missing values are refused, naming the column and how many, unless the caller asks
//! to drop the incomplete rows: silently imputing would change the estimand.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use ndarray::{Array1, Array2};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// How a column's values are to be read.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// Real numbers.
    Continuous,
    /// Two values, stored as 0 and 1.
    Binary,
    /// A finite set of labels, one-hot in design matrices.
    Categorical,
}

impl std::str::FromStr for ColumnType {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "continuous" | "numeric" | "number" => Ok(ColumnType::Continuous),
            "binary" | "bool" | "boolean" => Ok(ColumnType::Binary),
            "categorical" | "category" | "string" => Ok(ColumnType::Categorical),
            other => Err(Error::invalid_input(format!(
                "unknown column type `{other}`; use continuous, binary or categorical"
            ))),
        }
    }
}

/// One column of a [`Dataset`].
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// The header name.
    pub name: String,
    /// The type the values were read as.
    pub kind: ColumnType,
    /// Values: the number, 0/1, or the index into `levels`.
    pub values: Vec<f64>,
    /// For binary and categorical columns, the labels in the order their codes use.
    /// A binary column read from 0/1 has levels `["0", "1"]`.
    pub levels: Vec<String>,
}

/// Options for [`Dataset::from_csv_path`] and [`Dataset::from_csv_str`].
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Column types that override inference, by column name.
    pub types: BTreeMap<String, ColumnType>,
    /// Drop rows with any missing value instead of refusing the file.
    pub drop_missing: bool,
}

/// A table of typed columns, all of the same length.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    source: String,
    columns: Vec<Column>,
    n_rows: usize,
    dropped_rows: usize,
}

/// Text that counts as a missing value.
fn is_missing(cell: &str) -> bool {
    matches!(
        cell.trim(),
        "" | "NA" | "N/A" | "NaN" | "nan" | "null" | "NULL" | "None" | "."
    )
}

/// The 0/1 code of a boolean-looking cell, if it is one.
fn boolean_code(cell: &str) -> Option<f64> {
    match cell.trim().to_ascii_lowercase().as_str() {
        "0" | "0.0" | "false" | "no" | "f" | "n" => Some(0.0),
        "1" | "1.0" | "true" | "yes" | "t" | "y" => Some(1.0),
        _ => None,
    }
}

fn parse_number(cell: &str) -> Option<f64> {
    cell.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

impl Dataset {
    /// Reads a CSV file with a header row.
    pub fn from_csv_path(path: &Path, options: &LoadOptions) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_csv_str(&text, &path.display().to_string(), options)
    }

    /// Reads CSV text with a header row; `source` names it in error messages.
    pub fn from_csv_str(text: &str, source: &str, options: &LoadOptions) -> Result<Self> {
        let parse_error = |line: usize, column: Option<&str>, message: String| Error::Parse {
            file: source.to_string(),
            line,
            column: column.map(str::to_string),
            message,
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(text.as_bytes());
        let header = checked_header(&mut reader, source)?;
        for name in options.types.keys() {
            if !header.contains(name) {
                return Err(Error::unknown_variable(
                    name,
                    header.iter().map(String::as_str),
                ));
            }
        }

        // Read all cells first: type inference needs a whole column.
        let mut rows: Vec<(usize, Vec<String>)> = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line() as usize);
                parse_error(line, None, e.to_string())
            })?;
            let line = record.position().map_or(0, |p| p.line() as usize);
            if record.len() != header.len() {
                return Err(parse_error(
                    line,
                    None,
                    format!(
                        "expected {} fields as in the header, found {}",
                        header.len(),
                        record.len()
                    ),
                ));
            }
            rows.push((line, record.iter().map(str::to_string).collect()));
        }
        if rows.is_empty() {
            return Err(parse_error(
                2,
                None,
                "the file has a header but no data rows".into(),
            ));
        }

        // Missing values: refuse naming the first column that has them, or drop rows.
        let mut keep = vec![true; rows.len()];
        for (j, name) in header.iter().enumerate() {
            let missing: Vec<usize> = rows
                .iter()
                .filter(|(_, cells)| is_missing(&cells[j]))
                .map(|(line, _)| *line)
                .collect();
            if missing.is_empty() {
                continue;
            }
            if !options.drop_missing {
                return Err(Error::MissingValues {
                    file: source.to_string(),
                    column: name.clone(),
                    count: missing.len(),
                    first_line: missing[0],
                });
            }
            for (i, (_, cells)) in rows.iter().enumerate() {
                if is_missing(&cells[j]) {
                    keep[i] = false;
                }
            }
        }
        let dropped_rows = keep.iter().filter(|k| !**k).count();
        let rows: Vec<(usize, Vec<String>)> = rows
            .into_iter()
            .zip(keep)
            .filter_map(|(row, k)| k.then_some(row))
            .collect();
        if rows.is_empty() {
            return Err(Error::invalid_data(format!(
                "{source}: every row has a missing value; nothing is left after dropping them"
            )));
        }

        let mut columns = Vec::with_capacity(header.len());
        for (j, name) in header.iter().enumerate() {
            let cells = rows.iter().map(|(line, cells)| (*line, cells[j].trim()));
            let kind = match options.types.get(name) {
                Some(kind) => kind.clone(),
                None => infer_type(rows.iter().map(|(_, cells)| cells[j].trim())),
            };
            let column = match kind {
                ColumnType::Continuous => read_continuous(name, cells, &parse_error)?,
                ColumnType::Binary => read_binary(name, cells, &parse_error)?,
                ColumnType::Categorical => read_categorical(name, cells),
            };
            columns.push(column);
        }
        Ok(Dataset {
            source: source.to_string(),
            n_rows: rows.len(),
            columns,
            dropped_rows,
        })
    }

    /// Builds a dataset from named numeric columns (used by tests and generators).
    /// Columns whose values are all 0 or 1 are typed binary, others continuous.
    pub fn from_columns(source: &str, columns: Vec<(String, Vec<f64>)>) -> Result<Self> {
        let n_rows = columns.first().map_or(0, |(_, v)| v.len());
        if n_rows == 0 {
            return Err(Error::invalid_data(format!("{source}: no rows")));
        }
        let mut typed = Vec::with_capacity(columns.len());
        for (name, values) in columns {
            if values.len() != n_rows {
                return Err(Error::invalid_data(format!(
                    "{source}: column `{name}` has {} values, expected {n_rows}",
                    values.len()
                )));
            }
            if values.iter().any(|v| !v.is_finite()) {
                return Err(Error::invalid_data(format!(
                    "{source}: column `{name}` has a value that is not a finite number"
                )));
            }
            let binary = values.iter().all(|v| *v == 0.0 || *v == 1.0);
            typed.push(Column {
                name,
                kind: if binary {
                    ColumnType::Binary
                } else {
                    ColumnType::Continuous
                },
                levels: if binary {
                    vec!["0".into(), "1".into()]
                } else {
                    Vec::new()
                },
                values,
            });
        }
        Ok(Dataset {
            source: source.to_string(),
            columns: typed,
            n_rows,
            dropped_rows: 0,
        })
    }

    /// Where the data came from (a path or a label).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Rows dropped for missing values when loading.
    pub fn dropped_rows(&self) -> usize {
        self.dropped_rows
    }

    /// The columns in file order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Column names in file order.
    pub fn column_names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    /// The column called `name`, or an error suggesting the nearest name.
    pub fn column(&self, name: &str) -> Result<&Column> {
        self.columns.iter().find(|c| c.name == name).ok_or_else(|| {
            Error::unknown_variable(name, self.columns.iter().map(|c| c.name.as_str()))
        })
    }

    /// The values of a column that an estimator uses as a number (treatment or
    /// outcome): continuous or binary. A categorical column is refused with a hint.
    pub fn numeric(&self, name: &str) -> Result<Array1<f64>> {
        let column = self.column(name)?;
        if column.kind == ColumnType::Categorical {
            let examples: Vec<&str> = column.levels.iter().take(3).map(String::as_str).collect();
            return Err(Error::invalid_data(format!(
                "column `{name}` is not numeric (values such as {}); a treatment or outcome must be a number or 0/1",
                examples.join(", ")
            )));
        }
        Ok(Array1::from(column.values.clone()))
    }

    /// A design matrix of the named columns, in the order given, with categorical
    /// columns expanded to one 0/1 column per non-reference level (named
    /// `column=level`). Returns the matrix (n × k) and the names of its columns.
    /// No intercept is added.
    pub fn design(&self, names: &[String]) -> Result<(Array2<f64>, Vec<String>)> {
        let mut blocks: Vec<(String, Cow<'_, [f64]>)> = Vec::new();
        for name in names {
            let column = self.column(name)?;
            match column.kind {
                ColumnType::Categorical => {
                    for (code, level) in column.levels.iter().enumerate().skip(1) {
                        let dummy = column
                            .values
                            .iter()
                            .map(|v| f64::from(u8::from(*v as usize == code)))
                            .collect();
                        blocks.push((format!("{name}={level}"), Cow::Owned(dummy)));
                    }
                }
                _ => blocks.push((name.clone(), Cow::Borrowed(&column.values))),
            }
        }
        // Filled row by row, in parallel chunks: each output row is written once and
        // contiguously while the columns are read as a few sequential streams.
        let width = blocks.len();
        let chunk_rows = 4096;
        let mut values = vec![0.0; self.n_rows * width];
        if width > 0 {
            values
                .par_chunks_mut(chunk_rows * width)
                .enumerate()
                .for_each(|(c, rows)| {
                    for (r, row) in rows.chunks_mut(width).enumerate() {
                        let i = c * chunk_rows + r;
                        for (value, (_, column)) in row.iter_mut().zip(&blocks) {
                            *value = column[i];
                        }
                    }
                });
        }
        let matrix = Array2::from_shape_vec((self.n_rows, width), values)
            .map_err(|e| Error::invalid_input(e.to_string()))?;
        Ok((matrix, blocks.into_iter().map(|(name, _)| name).collect()))
    }

    /// The same dataset restricted to (and reordered by) the given row indices.
    pub fn select_rows(&self, rows: &[usize]) -> Dataset {
        Dataset {
            source: self.source.clone(),
            columns: self
                .columns
                .iter()
                .map(|c| Column {
                    values: rows.iter().map(|&i| c.values[i]).collect(),
                    ..c.clone()
                })
                .collect(),
            n_rows: rows.len(),
            dropped_rows: self.dropped_rows,
        }
    }

    /// The same dataset with one more continuous column (refused if the name exists).
    pub fn with_column(&self, name: &str, values: Vec<f64>) -> Result<Dataset> {
        if self.columns.iter().any(|c| c.name == name) {
            return Err(Error::invalid_input(format!(
                "column `{name}` already exists"
            )));
        }
        if values.len() != self.n_rows {
            return Err(Error::invalid_input(format!(
                "column `{name}` has {} values, expected {}",
                values.len(),
                self.n_rows
            )));
        }
        let mut out = self.clone();
        out.columns.push(Column {
            name: name.to_string(),
            kind: ColumnType::Continuous,
            values,
            levels: Vec::new(),
        });
        Ok(out)
    }

    /// The same dataset with a column's values replaced (type kept).
    pub fn replace_values(&self, name: &str, values: Vec<f64>) -> Result<Dataset> {
        let index = self
            .columns
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| {
                Error::unknown_variable(name, self.columns.iter().map(|c| c.name.as_str()))
            })?;
        let mut out = self.clone();
        out.columns[index].values = values;
        Ok(out)
    }
}

/// Numbers → continuous, unless every value is a boolean code (→ binary); two
/// distinct boolean-looking words → binary; anything else → categorical.
/// The column names of the CSV file at `path` (its first row, nothing more is read),
/// checked as [`Dataset::from_csv_path`] checks them; `source` names the file in
/// errors. For refusing a file whose columns do not fit before reading all of it.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::Parse`] for an empty file,
/// a column without a name or a name that appears twice.
pub fn csv_header(path: &Path, source: &str) -> Result<Vec<String>> {
    let file = std::fs::File::open(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(file);
    checked_header(&mut reader, source)
}

/// The header row of `reader`, trimmed: refused when empty, when a column has no
/// name, or when a name appears twice.
fn checked_header<R: std::io::Read>(
    reader: &mut csv::Reader<R>,
    source: &str,
) -> Result<Vec<String>> {
    let parse_error = |column: Option<&str>, message: String| Error::Parse {
        file: source.to_string(),
        line: 1,
        column: column.map(str::to_string),
        message,
    };
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| parse_error(None, e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if header.iter().all(String::is_empty) {
        return Err(parse_error(
            None,
            "the file is empty; expected a header row of column names".into(),
        ));
    }
    let mut seen = BTreeMap::new();
    for (i, name) in header.iter().enumerate() {
        if name.is_empty() {
            return Err(parse_error(None, format!("column {} has no name", i + 1)));
        }
        if let Some(first) = seen.insert(name.as_str(), i) {
            return Err(parse_error(
                Some(name),
                format!(
                    "the name appears twice (columns {} and {})",
                    first + 1,
                    i + 1
                ),
            ));
        }
    }
    Ok(header)
}

fn infer_type<'a>(cells: impl Iterator<Item = &'a str> + Clone) -> ColumnType {
    if cells.clone().all(|c| boolean_code(c).is_some()) {
        ColumnType::Binary
    } else if cells.clone().all(|c| parse_number(c).is_some()) {
        ColumnType::Continuous
    } else {
        ColumnType::Categorical
    }
}

type ParseError<'a> = dyn Fn(usize, Option<&str>, String) -> Error + 'a;

fn read_continuous<'a>(
    name: &str,
    cells: impl Iterator<Item = (usize, &'a str)>,
    parse_error: &ParseError,
) -> Result<Column> {
    let mut values = Vec::new();
    for (line, cell) in cells {
        let value = parse_number(cell).ok_or_else(|| {
            parse_error(line, Some(name), format!("`{cell}` is not a finite number"))
        })?;
        values.push(value);
    }
    Ok(Column {
        name: name.to_string(),
        kind: ColumnType::Continuous,
        values,
        levels: Vec::new(),
    })
}

/// A binary column from boolean codes (0/1, true/false, yes/no) or, when forced by
/// the caller, from any two distinct labels (the first in sorted order becomes 0).
fn read_binary<'a>(
    name: &str,
    cells: impl Iterator<Item = (usize, &'a str)> + Clone,
    parse_error: &ParseError,
) -> Result<Column> {
    if cells.clone().all(|(_, c)| boolean_code(c).is_some()) {
        return Ok(Column {
            name: name.to_string(),
            kind: ColumnType::Binary,
            values: cells.filter_map(|(_, c)| boolean_code(c)).collect(),
            levels: vec!["0".into(), "1".into()],
        });
    }
    let column = read_categorical(name, cells.clone());
    if column.levels.len() > 2 {
        let line = cells
            .clone()
            .find(|(_, c)| *c == column.levels[2])
            .map_or(0, |(line, _)| line);
        return Err(parse_error(
            line,
            Some(name),
            format!(
                "a binary column has at most two values, found `{}`, `{}` and `{}`",
                column.levels[0], column.levels[1], column.levels[2]
            ),
        ));
    }
    Ok(Column {
        kind: ColumnType::Binary,
        ..column
    })
}

fn read_categorical<'a>(name: &str, cells: impl Iterator<Item = (usize, &'a str)>) -> Column {
    let cells: Vec<&str> = cells.map(|(_, c)| c).collect();
    let levels: Vec<String> = cells
        .iter()
        .map(|c| c.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let values = cells
        .iter()
        .map(|c| levels.binary_search_by(|l| l.as_str().cmp(c)).unwrap_or(0) as f64)
        .collect();
    Column {
        name: name.to_string(),
        kind: ColumnType::Categorical,
        values,
        levels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Dataset> {
        Dataset::from_csv_str(text, "test.csv", &LoadOptions::default())
    }

    #[test]
    fn infers_continuous_binary_and_categorical() {
        let data =
            load("y,t,flag,region\n1.5,0,yes,north\n2.5,1,no,south\n3,1,yes,east\n").unwrap();
        let kinds: Vec<ColumnType> = data.columns().iter().map(|c| c.kind.clone()).collect();
        assert_eq!(
            kinds,
            [
                ColumnType::Continuous,
                ColumnType::Binary,
                ColumnType::Binary,
                ColumnType::Categorical
            ]
        );
        assert_eq!(data.column("flag").unwrap().values, [1.0, 0.0, 1.0]);
        assert_eq!(
            data.column("region").unwrap().levels,
            ["east", "north", "south"]
        );
    }

    #[test]
    fn categorical_design_is_one_hot_against_the_first_level() {
        let data = load("y,region\n1,north\n2,south\n3,east\n").unwrap();
        let (x, names) = data.design(&["region".into()]).unwrap();
        assert_eq!(names, ["region=north", "region=south"]);
        assert_eq!(x.row(0).to_vec(), [1.0, 0.0]);
        assert_eq!(x.row(1).to_vec(), [0.0, 1.0]);
        assert_eq!(x.row(2).to_vec(), [0.0, 0.0]);
    }

    #[test]
    fn overrides_win_over_inference() {
        let mut options = LoadOptions::default();
        options.types.insert("code".into(), ColumnType::Categorical);
        let data = Dataset::from_csv_str("code,y\n10,1\n20,2\n10,3\n", "t.csv", &options).unwrap();
        assert_eq!(data.column("code").unwrap().kind, ColumnType::Categorical);
        assert_eq!(data.column("code").unwrap().levels, ["10", "20"]);
    }

    #[test]
    fn forced_numeric_column_with_text_names_line_and_column() {
        let mut options = LoadOptions::default();
        options.types.insert("age".into(), ColumnType::Continuous);
        let err = Dataset::from_csv_str("age,y\n31,1\nabc,2\n", "t.csv", &options).unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.csv:3: column `age`: `abc` is not a finite number"
        );
    }

    #[test]
    fn missing_values_are_refused_with_column_and_count() {
        let err = load("a,b\n1,2\n,3\nNA,4\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "test.csv: column `a` has 2 missing value(s) (first on line 3); clean them or pass --drop-missing"
        );
    }

    #[test]
    fn drop_missing_drops_incomplete_rows() {
        let options = LoadOptions {
            drop_missing: true,
            ..Default::default()
        };
        let data = Dataset::from_csv_str("a,b\n1,2\n,3\n5,NA\n7,8\n", "t.csv", &options).unwrap();
        assert_eq!(data.n_rows(), 2);
        assert_eq!(data.dropped_rows(), 2);
        assert_eq!(data.column("a").unwrap().values, [1.0, 7.0]);
    }

    #[test]
    fn ragged_rows_are_refused_with_the_line() {
        let err = load("a,b,c\n1,2,3\n4,5\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "test.csv:3: expected 3 fields as in the header, found 2"
        );
    }

    #[test]
    fn empty_and_header_only_files_are_refused() {
        assert!(load("").unwrap_err().to_string().contains("empty"));
        assert!(load("a,b\n")
            .unwrap_err()
            .to_string()
            .contains("no data rows"));
    }

    #[test]
    fn duplicate_header_is_refused() {
        let err = load("a,a\n1,2\n").unwrap_err();
        assert!(err.to_string().contains("appears twice"), "{err}");
    }

    #[test]
    fn unknown_column_suggests_the_nearest() {
        let data = load("treat,re78\n1,2\n").unwrap();
        assert_eq!(
            data.column("tret").unwrap_err().to_string(),
            "unknown variable `tret`; did you mean `treat`?"
        );
    }

    #[test]
    fn categorical_outcome_is_not_numeric() {
        let data = load("y,t\nlow,1\nhigh,0\n").unwrap();
        let err = data.numeric("y").unwrap_err();
        assert!(err.to_string().contains("not numeric"), "{err}");
    }

    #[test]
    fn forced_binary_with_three_labels_is_refused() {
        let mut options = LoadOptions::default();
        options.types.insert("g".into(), ColumnType::Binary);
        let err = Dataset::from_csv_str("g\na\nb\nc\n", "t.csv", &options).unwrap_err();
        assert!(err.to_string().starts_with("t.csv:4: column `g`"), "{err}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = load(&text);
        }
    }
}
