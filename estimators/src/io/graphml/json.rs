//! The JSON text of the list- and map-valued GraphML attributes.
//!
//! GraphML values are scalars, so `aliases`, `assumptions` (lists of strings) and
//! `parameters` (a map from name to number) are stored as JSON text: tools that know
//! nothing of Causeway still show it readably, Python decodes it with `json.loads`,
//! and it round-trips exactly. Only these two shapes are needed, so this is a small
//! exact-purpose encoder and parser rather than a dependency: the output is compact
//! (`["TV ads","電視廣告"]`, `{"intercept":1.5}`), leaves non-ASCII text unescaped
//! so it stays readable, and writes numbers with the same shortest-round-trip form
//! as the numeric attributes. The parser accepts any JSON of those shapes, including
//! Python's `ensure_ascii` escapes (`"\u96fb"`, surrogate pairs).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::format_f64;

/// `["a","b"]`.
pub(crate) fn write_strings(items: &[String]) -> String {
    let mut out = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(&mut out, item);
    }
    out.push(']');
    out
}

/// `{"a":1.5,"b":-0.0}`, keys in the map's (sorted) order. Numbers must be finite.
pub(crate) fn write_numbers(map: &BTreeMap<String, f64>) -> String {
    let mut out = String::from("{");
    for (i, (name, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(&mut out, name);
        out.push(':');
        out.push_str(&format_f64(*value));
    }
    out.push('}');
    out
}

fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parses a JSON array of strings; the error says what was expected where.
pub(crate) fn read_strings(text: &str) -> Result<Vec<String>, String> {
    let mut parser = Parser::new(text);
    let mut items = Vec::new();
    parser.expect('[')?;
    if !parser.eat(']') {
        loop {
            items.push(parser.string()?);
            if parser.eat(']') {
                break;
            }
            parser.expect(',')?;
        }
    }
    parser.end()?;
    Ok(items)
}

/// Parses a JSON object whose values are finite numbers; a repeated name is refused.
pub(crate) fn read_numbers(text: &str) -> Result<BTreeMap<String, f64>, String> {
    let mut parser = Parser::new(text);
    let mut map = BTreeMap::new();
    parser.expect('{')?;
    if !parser.eat('}') {
        loop {
            let name = parser.string()?;
            parser.expect(':')?;
            let value = parser.number()?;
            if map.insert(name.clone(), value).is_some() {
                return Err(format!("`{name}` is given twice"));
            }
            if parser.eat('}') {
                break;
            }
            parser.expect(',')?;
        }
    }
    parser.end()?;
    Ok(map)
}

struct Parser<'a> {
    rest: std::str::Chars<'a>,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser { rest: text.chars() }
    }

    fn skip_space(&mut self) {
        let trimmed = self
            .rest
            .as_str()
            .trim_start_matches([' ', '\t', '\n', '\r']);
        self.rest = trimmed.chars();
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_space();
        self.rest.clone().next()
    }

    fn eat(&mut self, wanted: char) -> bool {
        if self.peek() == Some(wanted) {
            self.rest.next();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, wanted: char) -> Result<(), String> {
        if self.eat(wanted) {
            Ok(())
        } else {
            Err(format!("expected `{wanted}`, found {}", self.found()))
        }
    }

    fn end(&mut self) -> Result<(), String> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(format!("unexpected {} after the end", self.found())),
        }
    }

    /// What comes next, for messages.
    fn found(&mut self) -> String {
        match self.peek() {
            None => "the end of the text".into(),
            Some(_) => {
                let next: String = self.rest.as_str().chars().take(12).collect();
                format!("`{next}`")
            }
        }
    }

    fn string(&mut self) -> Result<String, String> {
        if !self.eat('"') {
            return Err(format!("expected a string, found {}", self.found()));
        }
        let mut out = String::new();
        loop {
            match self.rest.next() {
                None => return Err("a string is not closed".into()),
                Some('"') => return Ok(out),
                Some('\\') => out.push(self.escape()?),
                Some(c) if u32::from(c) < 0x20 => {
                    return Err(format!(
                        "control character U+{:04X} in a string must be escaped",
                        u32::from(c)
                    ))
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn escape(&mut self) -> Result<char, String> {
        Ok(match self.rest.next() {
            Some('"') => '"',
            Some('\\') => '\\',
            Some('/') => '/',
            Some('b') => '\u{8}',
            Some('f') => '\u{c}',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('u') => {
                let first = self.hex4()?;
                let code = if (0xD800..0xDC00).contains(&first) {
                    // A UTF-16 surrogate pair, as Python's ensure_ascii writes
                    // characters outside the basic plane.
                    if self.rest.next() != Some('\\') || self.rest.next() != Some('u') {
                        return Err("a \\u surrogate is not followed by its pair".into());
                    }
                    let second = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&second) {
                        return Err("a \\u surrogate is not followed by its pair".into());
                    }
                    0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                } else {
                    first
                };
                char::from_u32(code).ok_or("a \\u escape names no character")?
            }
            Some(other) => return Err(format!("unknown escape `\\{other}`")),
            None => return Err("a string is not closed".into()),
        })
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits: String = self.rest.by_ref().take(4).collect();
        if digits.len() == 4 && digits.chars().all(|c| c.is_ascii_hexdigit()) {
            u32::from_str_radix(&digits, 16).map_err(|e| e.to_string())
        } else {
            Err(format!("`\\u{digits}` needs four hex digits"))
        }
    }

    fn number(&mut self) -> Result<f64, String> {
        self.skip_space();
        let text = self.rest.as_str();
        let len = text
            .find(|c: char| !matches!(c, '0'..='9' | '-' | '+' | '.' | 'e' | 'E'))
            .unwrap_or(text.len());
        let (token, rest) = text.split_at(len);
        if token.is_empty() {
            return Err(format!("expected a number, found {}", self.found()));
        }
        let value: f64 = token
            .parse()
            .map_err(|_| format!("`{token}` is not a number"))?;
        if !value.is_finite() {
            return Err(format!("`{token}` is too large for a 64-bit float"));
        }
        self.rest = rest.chars();
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip_and_read_python_escapes() {
        let items = vec![
            "TV ads".to_string(),
            "電視廣告".into(),
            "quote \" back \\ slash".into(),
            "tab\tline\nbell\u{7}".into(),
            String::new(),
        ];
        let text = write_strings(&items);
        assert_eq!(
            text,
            r#"["TV ads","電視廣告","quote \" back \\ slash","tab\tline\nbell\u0007",""]"#
        );
        assert_eq!(read_strings(&text).unwrap(), items);
        assert_eq!(read_strings("[]").unwrap(), Vec::<String>::new());
        assert_eq!(
            read_strings(r#" [ "\u96fb\u8996", "\ud83d\ude00", "a\/b" ] "#).unwrap(),
            ["電視", "😀", "a/b"]
        );
    }

    #[test]
    fn maps_round_trip_with_exact_numbers() {
        let map: BTreeMap<String, f64> = [
            ("intercept".to_string(), 1.5),
            ("tv_spend".into(), 0.3),
            ("tiny".into(), 5e-324),
            ("negative zero".into(), -0.0),
        ]
        .into_iter()
        .collect();
        let text = write_numbers(&map);
        assert_eq!(
            text,
            r#"{"intercept":1.5,"negative zero":-0.0,"tiny":5e-324,"tv_spend":0.3}"#
        );
        let back = read_numbers(&text).unwrap();
        assert_eq!(back, map);
        assert!(back["negative zero"].is_sign_negative());
        assert_eq!(read_numbers("{}").unwrap(), BTreeMap::new());
        assert_eq!(
            read_numbers(r#"{"a": 1, "b": 1e-05, "c": -2.5E+3}"#).unwrap(),
            [
                ("a".to_string(), 1.0),
                ("b".into(), 1e-5),
                ("c".into(), -2500.0)
            ]
            .into_iter()
            .collect()
        );
    }

    #[test]
    fn malformed_json_is_explained() {
        let lists = [
            ("TV ads", "expected `[`"),
            ("[\"a\",]", "expected a string"),
            ("[\"a\"", "expected `,`"),
            ("[\"a] ", "not closed"),
            ("[1]", "expected a string"),
            ("[\"\\ud83d\"]", "surrogate"),
            ("[\"\\x\"]", "unknown escape"),
            ("[\"a\nb\"]", "must be escaped"),
            ("[] x", "after the end"),
        ];
        for (text, message) in lists {
            let error = read_strings(text).unwrap_err();
            assert!(error.contains(message), "{text}: {error}");
        }
        let maps = [
            ("{\"a\":NaN}", "expected a number"),
            ("{\"a\":1e999}", "too large"),
            ("{\"a\":1-2}", "not a number"),
            ("{\"a\":1,\"a\":2}", "given twice"),
            ("{\"a\" 1}", "expected `:`"),
        ];
        for (text, message) in maps {
            let error = read_numbers(text).unwrap_err();
            assert!(error.contains(message), "{text}: {error}");
        }
    }
}
