//! Text formats for causal graphs: the compact edge list and Graphviz DOT.
//!
//! Both are hand-written lexers feeding small recursive-descent parsers rather than a
//! grammar library: the formats are tiny, and a hand-written lexer keeps the line of
//! every token, so an error can point at the exact line and name the token that is
//! wrong. Both feed the shared [`GraphBuilder`], so node order, duplicate edges and the
//! cycle check behave the same whatever the format.

use std::collections::HashSet;

use super::{CausalGraph, GraphBuilder};
use crate::error::{Error, Result};

fn parse_error(file: &str, line: usize, message: impl Into<String>) -> Error {
    Error::Parse {
        file: file.to_string(),
        line,
        column: None,
        message: message.into(),
    }
}

/// Reads a double-quoted name whose opening quote has been consumed; `\"` and `\\`
/// are escapes, and a backslash before a newline continues the line (as DOT allows).
fn quoted(
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    line: &mut usize,
    multiline: bool,
) -> Option<String> {
    let mut text = String::new();
    while let Some((_, c)) = chars.next() {
        match c {
            '"' => return Some(text),
            '\\' => match chars.peek().map(|&(_, c)| c) {
                Some('"') | Some('\\') => {
                    text.push(chars.next()?.1);
                }
                Some('\n') if multiline => {
                    chars.next();
                    *line += 1;
                }
                _ => text.push('\\'),
            },
            '\n' if !multiline => return None,
            '\n' => {
                *line += 1;
                text.push('\n');
            }
            c => text.push(c),
        }
    }
    None
}

// ------------------------------------------------------------------------------
// Edge list
// ------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
enum EdgeToken {
    Name(String),
    /// `->`
    Forward,
    /// `<-`
    Backward,
    /// `<->`
    Both,
    /// `,`, `;` or a newline.
    Separator,
}

impl EdgeToken {
    fn describe(&self) -> String {
        match self {
            EdgeToken::Name(n) => format!("`{n}`"),
            EdgeToken::Forward => "`->`".into(),
            EdgeToken::Backward => "`<-`".into(),
            EdgeToken::Both => "`<->`".into(),
            EdgeToken::Separator => "a separator".into(),
        }
    }
}

fn is_edge_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '.'
}

fn lex_edge_list(text: &str, file: &str) -> Result<Vec<(EdgeToken, usize)>> {
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        match c {
            '\n' => {
                tokens.push((EdgeToken::Separator, line));
                line += 1;
            }
            ',' | ';' => tokens.push((EdgeToken::Separator, line)),
            '#' => while chars.next_if(|&(_, c)| c != '\n').is_some() {},
            c if c.is_whitespace() => {}
            '-' if chars.next_if(|&(_, c)| c == '>').is_some() => {
                tokens.push((EdgeToken::Forward, line))
            }
            '<' if chars.next_if(|&(_, c)| c == '-').is_some() => {
                if chars.next_if(|&(_, c)| c == '>').is_some() {
                    tokens.push((EdgeToken::Both, line));
                } else {
                    tokens.push((EdgeToken::Backward, line));
                }
            }
            '"' => {
                let name = quoted(&mut chars, &mut line, false).ok_or_else(|| {
                    parse_error(file, line, "a quoted name is not closed on its line")
                })?;
                if name.is_empty() {
                    return Err(parse_error(file, line, "a variable name cannot be empty"));
                }
                tokens.push((EdgeToken::Name(name), line));
            }
            c if is_edge_name_char(c) => {
                let mut end = start + c.len_utf8();
                while let Some((i, c)) = chars.next_if(|&(_, c)| is_edge_name_char(c)) {
                    end = i + c.len_utf8();
                }
                tokens.push((EdgeToken::Name(text[start..end].to_string()), line));
            }
            other => {
                let hint = if other == '-' || other == '>' || other == '<' {
                    "; an edge is written `a -> b`"
                } else {
                    "; quote names that contain it, as in \"my name\""
                };
                return Err(parse_error(
                    file,
                    line,
                    format!("unexpected character `{other}`{hint}"),
                ));
            }
        }
    }
    Ok(tokens)
}

/// See [`CausalGraph::parse_edge_list`]; `file` names the source in errors.
pub(crate) fn edge_list(text: &str, file: &str) -> Result<CausalGraph> {
    let tokens = lex_edge_list(text, file)?;
    let mut builder = GraphBuilder::default();
    let mut bidirected: Vec<(usize, usize)> = Vec::new();
    let mut n_edges = 0;
    for statement in tokens.split(|(t, _)| *t == EdgeToken::Separator) {
        let Some(((first, first_line), rest)) = statement.split_first() else {
            continue;
        };
        let EdgeToken::Name(first) = first else {
            return Err(parse_error(
                file,
                *first_line,
                format!("expected a variable name before {}", first.describe()),
            ));
        };
        if rest.is_empty() {
            return Err(parse_error(
                file,
                *first_line,
                format!("`{first}` is not an edge; write `{first} -> other`"),
            ));
        }
        let mut previous = (builder.node(first), first.clone());
        let mut rest = rest.iter();
        while let Some((arrow, line)) = rest.next() {
            if let EdgeToken::Name(name) = arrow {
                return Err(parse_error(
                    file,
                    *line,
                    format!(
                        "expected `->`, `<-` or `<->` between `{}` and `{name}`",
                        previous.1
                    ),
                ));
            }
            let name = match rest.next() {
                Some((EdgeToken::Name(name), _)) => name,
                Some((other, line)) => {
                    return Err(parse_error(
                        file,
                        *line,
                        format!(
                            "expected a variable name after {}, found {}",
                            arrow.describe(),
                            other.describe()
                        ),
                    ))
                }
                None => {
                    return Err(parse_error(
                        file,
                        *line,
                        format!(
                            "expected a variable name after `{}` {}",
                            previous.1,
                            arrow.describe()
                        ),
                    ))
                }
            };
            let next = builder.node(name);
            match arrow {
                EdgeToken::Forward => builder.edge(previous.0, next),
                EdgeToken::Backward => builder.edge(next, previous.0),
                _ if next == previous.0 => {
                    return Err(parse_error(
                        file,
                        *line,
                        format!("`{name} <-> {name}` needs two different variables"),
                    ))
                }
                _ => bidirected.push((previous.0, next)),
            }
            n_edges += 1;
            previous = (next, name.clone());
        }
    }
    if n_edges == 0 {
        return Err(parse_error(
            file,
            1,
            "no edges found; write edges as `a -> b, b -> c`",
        ));
    }
    add_latent_common_causes(&mut builder, &bidirected);
    builder.build()
}

/// Adds one latent node `U_a_b` per bidirected pair. Done after every statement is
/// read so that a generated name never captures a node the user named later in the
/// text: on a clash, a numeric suffix makes the name unique.
fn add_latent_common_causes(builder: &mut GraphBuilder, pairs: &[(usize, usize)]) {
    let mut done: HashSet<(usize, usize)> = HashSet::new();
    for &(a, b) in pairs {
        if !done.insert((a.min(b), a.max(b))) {
            continue;
        }
        let base = format!("U_{}_{}", builder.names[a], builder.names[b]);
        let mut name = base.clone();
        let mut suffix = 2;
        while builder.contains(&name) {
            name = format!("{base}_{suffix}");
            suffix += 1;
        }
        let u = builder.node(&name);
        builder.set_observed(u, false);
        builder.edge(u, a);
        builder.edge(u, b);
    }
}

// ------------------------------------------------------------------------------
// DOT
// ------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
enum DotToken {
    /// An identifier, number, quoted string or HTML string; `quoted` ones are never
    /// keywords.
    Id {
        text: String,
        quoted: bool,
    },
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Semi,
    Comma,
    Equals,
    Colon,
    Arrow,
    /// `--`, refused: causal graphs are directed.
    Dash,
}

impl DotToken {
    fn describe(&self) -> String {
        match self {
            DotToken::Id { text, .. } => format!("`{text}`"),
            DotToken::LBrace => "`{`".into(),
            DotToken::RBrace => "`}`".into(),
            DotToken::LBracket => "`[`".into(),
            DotToken::RBracket => "`]`".into(),
            DotToken::Semi => "`;`".into(),
            DotToken::Comma => "`,`".into(),
            DotToken::Equals => "`=`".into(),
            DotToken::Colon => "`:`".into(),
            DotToken::Arrow => "`->`".into(),
            DotToken::Dash => "`--`".into(),
        }
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self, DotToken::Id { text, quoted: false } if text.eq_ignore_ascii_case(keyword))
    }
}

fn is_dot_id_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '.' || !c.is_ascii()
}

fn lex_dot(text: &str, file: &str) -> Result<(Vec<(DotToken, usize)>, usize)> {
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        let token = match c {
            '\n' => {
                line += 1;
                continue;
            }
            c if c.is_whitespace() => continue,
            '#' => {
                while chars.next_if(|&(_, c)| c != '\n').is_some() {}
                continue;
            }
            '/' if chars.next_if(|&(_, c)| c == '/').is_some() => {
                while chars.next_if(|&(_, c)| c != '\n').is_some() {}
                continue;
            }
            '/' if chars.next_if(|&(_, c)| c == '*').is_some() => {
                let opened = line;
                let mut previous = ' ';
                loop {
                    match chars.next() {
                        None => {
                            return Err(parse_error(file, opened, "a `/*` comment is never closed"))
                        }
                        Some((_, '/')) if previous == '*' => break,
                        Some((_, c)) => {
                            if c == '\n' {
                                line += 1;
                            }
                            previous = c;
                        }
                    }
                }
                continue;
            }
            '{' => DotToken::LBrace,
            '}' => DotToken::RBrace,
            '[' => DotToken::LBracket,
            ']' => DotToken::RBracket,
            ';' => DotToken::Semi,
            ',' => DotToken::Comma,
            '=' => DotToken::Equals,
            ':' => DotToken::Colon,
            '-' if chars.next_if(|&(_, c)| c == '>').is_some() => DotToken::Arrow,
            '-' if chars.next_if(|&(_, c)| c == '-').is_some() => DotToken::Dash,
            '"' => {
                let opened = line;
                let text = quoted(&mut chars, &mut line, true)
                    .ok_or_else(|| parse_error(file, opened, "a quoted string is never closed"))?;
                tokens.push((DotToken::Id { text, quoted: true }, opened));
                continue;
            }
            '<' => {
                // HTML strings nest angle brackets; they only ever appear as labels,
                // which are ignored, so only their extent matters.
                let opened = line;
                let mut depth = 1;
                let mut html = String::new();
                while depth > 0 {
                    let Some((_, c)) = chars.next() else {
                        return Err(parse_error(
                            file,
                            opened,
                            "an HTML string `<…>` is never closed",
                        ));
                    };
                    match c {
                        '<' => depth += 1,
                        '>' => depth -= 1,
                        '\n' => line += 1,
                        _ => {}
                    }
                    if depth > 0 {
                        html.push(c);
                    }
                }
                tokens.push((
                    DotToken::Id {
                        text: html,
                        quoted: true,
                    },
                    opened,
                ));
                continue;
            }
            '-' if !chars
                .peek()
                .is_some_and(|&(_, c)| c.is_ascii_digit() || c == '.') =>
            {
                return Err(parse_error(
                    file,
                    line,
                    "unexpected `-`; a directed edge is written `a -> b`",
                ));
            }
            // A leading `-` is a negative numeral such as `-1.5`.
            c if is_dot_id_char(c) || c == '-' => {
                let mut end = start + c.len_utf8();
                while let Some((i, c)) = chars.next_if(|&(_, c)| is_dot_id_char(c)) {
                    end = i + c.len_utf8();
                }
                DotToken::Id {
                    text: text[start..end].to_string(),
                    quoted: false,
                }
            }
            other => {
                return Err(parse_error(
                    file,
                    line,
                    format!("unexpected character `{other}`"),
                ))
            }
        };
        tokens.push((token, line));
    }
    Ok((tokens, line))
}

/// A recursive-descent parser over DOT tokens, building the graph as it goes.
struct DotParser<'a> {
    file: &'a str,
    tokens: Vec<(DotToken, usize)>,
    position: usize,
    last_line: usize,
    builder: GraphBuilder,
}

/// Statement-level nesting allowed before a file is refused: deep enough for any real
/// graph, shallow enough that recursion cannot exhaust the stack.
const MAX_DOT_DEPTH: usize = 64;

impl DotParser<'_> {
    fn peek(&self) -> Option<&DotToken> {
        self.tokens.get(self.position).map(|(t, _)| t)
    }

    fn line(&self) -> usize {
        self.tokens
            .get(self.position)
            .map_or(self.last_line, |&(_, line)| line)
    }

    fn error(&self, message: impl Into<String>) -> Error {
        parse_error(self.file, self.line(), message)
    }

    fn error_at_previous(&self, message: impl Into<String>) -> Error {
        let line = self
            .position
            .checked_sub(1)
            .and_then(|p| self.tokens.get(p));
        parse_error(self.file, line.map_or(self.last_line, |&(_, l)| l), message)
    }

    fn found(&self) -> String {
        self.peek()
            .map_or_else(|| "the end of the file".into(), DotToken::describe)
    }

    fn eat(&mut self, token: &DotToken) -> bool {
        if self.peek() == Some(token) {
            self.position += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, token: &DotToken, context: &str) -> Result<()> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(self.error(format!(
                "expected {} {context}, found {}",
                token.describe(),
                self.found()
            )))
        }
    }

    fn id(&mut self, what: &str) -> Result<String> {
        match self.peek() {
            Some(DotToken::Id { text, .. }) => {
                let text = text.clone();
                self.position += 1;
                Ok(text)
            }
            _ => Err(self.error(format!("expected {what}, found {}", self.found()))),
        }
    }

    fn graph(&mut self) -> Result<()> {
        if self.peek().is_some_and(|t| t.is_keyword("strict")) {
            self.position += 1;
        }
        match self.peek() {
            Some(t) if t.is_keyword("digraph") => self.position += 1,
            Some(t) if t.is_keyword("graph") => {
                return Err(self.error(
                    "an undirected `graph` cannot be a causal graph; write `digraph { a -> b }`",
                ))
            }
            _ => return Err(self.error(format!("expected `digraph`, found {}", self.found()))),
        }
        if matches!(self.peek(), Some(DotToken::Id { .. })) {
            self.position += 1;
        }
        self.expect(&DotToken::LBrace, "to open the graph")?;
        self.statements(0)?;
        self.expect(&DotToken::RBrace, "to close the graph")?;
        if self.peek().is_some() {
            return Err(self.error(format!(
                "unexpected {} after the end of the graph; a file holds one digraph",
                self.found()
            )));
        }
        Ok(())
    }

    /// Statements up to (not including) the closing `}`; returns every node they
    /// mention, which is what a subgraph stands for on either side of `->`.
    fn statements(&mut self, depth: usize) -> Result<Vec<usize>> {
        if depth > MAX_DOT_DEPTH {
            return Err(self.error("subgraphs are nested too deeply"));
        }
        let mut mentioned = Vec::new();
        loop {
            match self.peek() {
                None | Some(DotToken::RBrace) => return Ok(mentioned),
                Some(DotToken::Semi) | Some(DotToken::Comma) => self.position += 1,
                Some(_) => mentioned.extend(self.statement(depth)?),
            }
        }
    }

    fn statement(&mut self, depth: usize) -> Result<Vec<usize>> {
        let token = self.peek().cloned();
        match token {
            Some(ref t) if ["graph", "node", "edge"].iter().any(|k| t.is_keyword(k)) => {
                self.position += 1;
                if self.peek() != Some(&DotToken::LBracket) {
                    return Err(self.error(format!(
                        "expected `[` after {}, found {}",
                        t.describe(),
                        self.found()
                    )));
                }
                self.attributes()?;
                Ok(Vec::new())
            }
            Some(DotToken::Id { .. })
                if self.tokens.get(self.position + 1).map(|(t, _)| t)
                    == Some(&DotToken::Equals) =>
            {
                // A graph attribute such as `rankdir = LR`.
                self.position += 2;
                self.id("a value after `=`")?;
                Ok(Vec::new())
            }
            _ => {
                let first = self.operand(depth)?;
                if matches!(self.peek(), Some(DotToken::Arrow) | Some(DotToken::Dash)) {
                    self.edges(first, depth)
                } else {
                    let attributes = if self.peek() == Some(&DotToken::LBracket) {
                        self.attributes()?
                    } else {
                        Vec::new()
                    };
                    if let Operand::Node(i) = first.0 {
                        self.apply_node_attributes(i, &attributes)?;
                    }
                    Ok(first.1)
                }
            }
        }
    }

    fn edges(&mut self, first: (Operand, Vec<usize>), depth: usize) -> Result<Vec<usize>> {
        let mut mentioned = first.1.clone();
        let mut previous = first.1;
        loop {
            match self.peek() {
                Some(DotToken::Arrow) => self.position += 1,
                Some(DotToken::Dash) => {
                    return Err(self.error(
                        "`--` is an undirected edge; causal graphs need directed edges `->`",
                    ))
                }
                _ => break,
            }
            let (_, next) = self.operand(depth)?;
            for &from in &previous {
                for &to in &next {
                    self.builder.edge(from, to);
                }
            }
            mentioned.extend(&next);
            previous = next;
        }
        if self.peek() == Some(&DotToken::LBracket) {
            self.attributes()?;
        }
        Ok(mentioned)
    }

    /// A node id (with an optional, ignored port) or a subgraph.
    fn operand(&mut self, depth: usize) -> Result<(Operand, Vec<usize>)> {
        match self.peek() {
            Some(t) if t.is_keyword("subgraph") => {
                self.position += 1;
                if matches!(self.peek(), Some(DotToken::Id { .. })) {
                    self.position += 1;
                }
                self.subgraph(depth)
            }
            Some(DotToken::LBrace) => self.subgraph(depth),
            Some(DotToken::Id { .. }) => {
                let name = self.id("a node name")?;
                if name.is_empty() {
                    return Err(self.error_at_previous("a node name cannot be empty"));
                }
                if self.eat(&DotToken::Colon) {
                    self.id("a port after `:`")?;
                    if self.eat(&DotToken::Colon) {
                        self.id("a compass point after `:`")?;
                    }
                }
                let i = self.builder.node(&name);
                Ok((Operand::Node(i), vec![i]))
            }
            _ => Err(self.error(format!(
                "expected a node name or `{{`, found {}",
                self.found()
            ))),
        }
    }

    fn subgraph(&mut self, depth: usize) -> Result<(Operand, Vec<usize>)> {
        self.expect(&DotToken::LBrace, "to open the subgraph")?;
        let mentioned = self.statements(depth + 1)?;
        self.expect(&DotToken::RBrace, "to close the subgraph")?;
        Ok((Operand::Subgraph, mentioned))
    }

    /// One or more `[k=v, …]` lists, as `(key, value, line)`.
    fn attributes(&mut self) -> Result<Vec<(String, String, usize)>> {
        let mut attributes = Vec::new();
        while self.eat(&DotToken::LBracket) {
            loop {
                if self.eat(&DotToken::RBracket) {
                    break;
                }
                let line = self.line();
                let key = self.id("an attribute name or `]`")?;
                self.expect(&DotToken::Equals, &format!("after attribute `{key}`"))?;
                let value = self.id(&format!("a value for attribute `{key}`"))?;
                attributes.push((key, value, line));
                if !self.eat(&DotToken::Comma) {
                    self.eat(&DotToken::Semi);
                }
            }
        }
        Ok(attributes)
    }

    fn apply_node_attributes(
        &mut self,
        node: usize,
        attributes: &[(String, String, usize)],
    ) -> Result<()> {
        for (key, value, line) in attributes {
            let observed = match key.to_ascii_lowercase().as_str() {
                "latent" => !parse_bool(value).ok_or_else(|| {
                    parse_error(
                        self.file,
                        *line,
                        format!("`latent` must be true or false, not `{value}`"),
                    )
                })?,
                "observed" => parse_bool(value).ok_or_else(|| {
                    parse_error(
                        self.file,
                        *line,
                        format!("`observed` must be true or false, not `{value}`"),
                    )
                })?,
                _ => continue,
            };
            self.builder.set_observed(node, observed);
        }
        Ok(())
    }
}

enum Operand {
    Node(usize),
    Subgraph,
}

/// The boolean spellings accepted in graph files.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Some(true),
        "false" | "no" | "0" => Some(false),
        _ => None,
    }
}

/// See [`CausalGraph::parse_dot`].
pub(crate) fn dot(text: &str, file: &str) -> Result<CausalGraph> {
    let (tokens, last_line) = lex_dot(text, file)?;
    let mut parser = DotParser {
        file,
        tokens,
        position: 0,
        last_line,
        builder: GraphBuilder::default(),
    };
    parser.graph()?;
    parser.builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_line(result: Result<CausalGraph>) -> (usize, String) {
        match result {
            Err(Error::Parse { line, message, .. }) => (line, message),
            Err(other) => panic!("expected a parse error, got {other}"),
            Ok(g) => panic!("expected a parse error, got {:?}", g.edges()),
        }
    }

    #[test]
    fn edge_list_accepts_separators_chains_and_reverse_arrows() {
        let g =
            CausalGraph::parse_edge_list("a->b, b->c; c -> d\n x <- y -> z\n\"store sales\"->d")
                .unwrap();
        assert_eq!(
            g.edges(),
            [
                ("a", "b"),
                ("b", "c"),
                ("c", "d"),
                ("y", "x"),
                ("y", "z"),
                ("store sales", "d")
            ]
        );
        assert!(g.latent_names().is_empty());
    }

    #[test]
    fn edge_list_bidirected_edge_adds_a_latent_common_cause() {
        let g = CausalGraph::parse_edge_list("t -> y, t <-> y, y <-> t").unwrap();
        assert_eq!(g.latent_names(), ["U_t_y"]);
        assert_eq!(g.children("U_t_y").unwrap(), ["t", "y"]);
        // A user's own node keeps its name; the generated one steps aside.
        let g = CausalGraph::parse_edge_list("a <-> b, U_a_b -> a").unwrap();
        assert_eq!(g.latent_names(), ["U_a_b_2"]);
        assert!(g.is_observed("U_a_b"));
    }

    #[test]
    fn edge_list_errors_name_the_token_and_line() {
        let cases = [
            ("a -> ", 1, "expected a variable name after `a` `->`"),
            ("a -> b\n-> c", 2, "expected a variable name before `->`"),
            ("a -> b,\nc", 2, "`c` is not an edge"),
            ("a b -> c", 1, "between `a` and `b`"),
            ("a -> b\n\na -> -> c", 3, "found `->`"),
            ("a - b", 1, "unexpected character `-`"),
            ("a -> b\nc -> d$", 2, "unexpected character `$`"),
            ("a -> \"b", 1, "not closed"),
            ("a <-> a", 1, "two different variables"),
            ("", 1, "no edges"),
            ("# only a comment\n", 1, "no edges"),
        ];
        for (text, line, message) in cases {
            let (got_line, got) = parse_line(CausalGraph::parse_edge_list(text));
            assert_eq!(got_line, line, "{text:?}: {got}");
            assert!(got.contains(message), "{text:?}: {got}");
        }
        let err = CausalGraph::parse_edge_list("a -> ")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("<edges>:1: "), "{err}");
    }

    #[test]
    fn edge_list_cycle_is_refused() {
        let err = CausalGraph::parse_edge_list("a -> b -> c -> a").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the causal graph has a cycle: a -> b -> c -> a"
        );
    }

    #[test]
    fn dot_reads_statements_attributes_and_groups() {
        let text = r#"
            // a comment
            strict digraph "lalonde" {
              graph [rankdir=LR]; node [shape=box]; edge [color=grey]
              rankdir = LR
              # preprocessor-style comment
              /* block
                 comment */
              u [latent=true, label="U"];
              h [observed=no]
              "quoted name" -> y [label="effect"];
              a -> {b c} -> y
              subgraph cluster_0 { p; q } -> a
              u -> a; u -> y; h -> b:port:n
            }
        "#;
        let g = CausalGraph::parse_dot(text, "g.dot").unwrap();
        assert_eq!(g.latent_names(), ["u", "h"]);
        assert_eq!(
            g.edges(),
            [
                ("u", "a"),
                ("u", "y"),
                ("h", "b"),
                ("quoted name", "y"),
                ("a", "b"),
                ("a", "c"),
                ("b", "y"),
                ("c", "y"),
                ("p", "a"),
                ("q", "a"),
            ]
        );
        assert!(g.is_observed("quoted name"));
    }

    #[test]
    fn dot_errors_carry_the_line() {
        let cases = [
            ("graph { a -- b }", 1, "undirected `graph`"),
            (
                "digraph {\n a -> b\n b -- c\n}",
                3,
                "`--` is an undirected edge",
            ),
            ("digraph {\n a -> \n}", 3, "expected a node name"),
            ("digraph {\n a -> b\n", 3, "expected `}` to close the graph"),
            (
                "digraph { a }\n digraph { b }",
                2,
                "after the end of the graph",
            ),
            (
                "digraph {\n\n u [latent=maybe] }",
                3,
                "`latent` must be true or false",
            ),
            (
                "digraph {\n a [label] }",
                2,
                "expected `=` after attribute `label`",
            ),
            ("digraph {\n /* never closed\n a -> b }", 2, "never closed"),
            ("digraph {\n a -> \"b\n\n }", 2, "never closed"),
            ("digraph {\n node a }", 2, "expected `[` after `node`"),
            ("digraph {\n a - b }", 2, "unexpected `-`"),
            ("digraph {\n a -> b %\n}", 2, "unexpected character `%`"),
            ("flowchart { a -> b }", 1, "expected `digraph`"),
            ("digraph {\n a -> \"\" }", 2, "cannot be empty"),
        ];
        for (text, line, message) in cases {
            let (got_line, got) = parse_line(CausalGraph::parse_dot(text, "g.dot"));
            assert_eq!(got_line, line, "{text:?}: {got}");
            assert!(got.contains(message), "{text:?}: {got}");
        }
    }

    #[test]
    fn dot_cycle_and_empty_graph() {
        let err = CausalGraph::parse_dot("digraph { x -> y -> x }", "g.dot").unwrap_err();
        assert_eq!(err.to_string(), "the causal graph has a cycle: x -> y -> x");
        assert!(CausalGraph::parse_dot("digraph {}", "g.dot")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn dot_nesting_is_bounded() {
        let text = format!("digraph {{ {} a {} }}", "{".repeat(200), "}".repeat(200));
        let (_, message) = parse_line(CausalGraph::parse_dot(&text, "g.dot"));
        assert!(message.contains("nested too deeply"), "{message}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn parsers_never_panic(text in "[a-c \\-<>{}\\[\\];,=\"/*#\n]{0,40}") {
            let _ = CausalGraph::parse_edge_list(&text);
            let _ = CausalGraph::parse_dot(&text, "p.dot");
            let _ = CausalGraph::parse_dot(&format!("digraph {{{text}}}"), "p.dot");
        }
    }
}
