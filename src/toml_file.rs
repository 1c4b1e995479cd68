//! Reading a TOML file into serde structs with every unknown key reported at once, each with its
//! line (serde's `deny_unknown_fields` stops at the first). The structs given to [`parse`] must
//! not use `deny_unknown_fields`: unknown keys are found here instead.

use serde::de::DeserializeOwned;
use toml_edit::{ImDocument, Item, TableLike, Value};

use crate::catalog::Problem;

/// Keys serde uses inside `toml::Spanned`; they are not the user's.
const SPANNED_KEY_PREFIX: &str = "$__serde_spanned_private";

/// Parses `text` (the file `file`) into `T`. Errors: the syntax or type error with its line, or
/// every unknown key (as `table.key`, with its line), sorted by line.
pub fn parse<T: DeserializeOwned>(text: &str, file: &str) -> Result<T, Vec<Problem>> {
    match parse_lenient(text, file) {
        Parsed {
            value: Some(value),
            problems,
        } if problems.is_empty() => Ok(value),
        Parsed { problems, .. } => Err(problems),
    }
}

/// What [`parse_lenient`] found.
pub struct Parsed<T> {
    /// The value, also when there are unknown keys; `None` after a syntax or type error.
    pub value: Option<T>,
    /// Every unknown key, and the syntax or type error, sorted by line.
    pub problems: Vec<Problem>,
}

/// As [`parse`], keeping the value when the only problems are unknown keys.
pub fn parse_lenient<T: DeserializeOwned>(text: &str, file: &str) -> Parsed<T> {
    let mut unknown: Vec<Vec<Segment>> = Vec::new();
    let result: Result<T, toml::de::Error> =
        serde_ignored::deserialize(toml::Deserializer::new(text), |path| {
            unknown.push(segments(&path))
        });
    let located = Located::new(file, text);
    let mut problems: Vec<Problem> = unknown
        .iter()
        .map(|path| located.at(path, format!("unknown key `{}`", dotted(path))))
        .collect();
    let value = match result {
        Ok(value) => Some(value),
        Err(e) => {
            let line = e.span().map_or(0, |s| line_at(text, s.start));
            problems.push(Problem::new(
                file,
                line,
                e.message().trim().replace('\n', " "),
            ));
            None
        }
    };
    problems.sort_by_key(|p| p.line);
    Parsed { value, problems }
}

/// A parsed file, to name the line of a key in problems found after deserializing.
pub struct Located<'a> {
    file: &'a str,
    text: &'a str,
    doc: Option<ImDocument<&'a str>>,
}

impl<'a> Located<'a> {
    pub fn new(file: &'a str, text: &'a str) -> Self {
        Self {
            file,
            text,
            doc: ImDocument::parse(text).ok(),
        }
    }

    /// A problem at the key `path` (e.g. `["upstreams", "hpf", "url"]`); line 0 when the key is
    /// not in the file.
    pub fn problem(&self, path: &[&str], message: impl Into<String>) -> Problem {
        let path: Vec<Segment> = path.iter().map(|k| Segment::Key(k.to_string())).collect();
        self.at(&path, message)
    }

    fn at(&self, path: &[Segment], message: impl Into<String>) -> Problem {
        let line = self
            .doc
            .as_ref()
            .and_then(|d| key_offset(d, path))
            .map_or(0, |offset| line_at(self.text, offset));
        Problem::new(self.file, line, message)
    }
}

/// The 1-based line of a byte offset in `text`.
pub fn line_at(text: &str, offset: usize) -> u64 {
    let upto = text.get(..offset).unwrap_or(text);
    1 + upto.bytes().filter(|b| *b == b'\n').count() as u64
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

fn segments(path: &serde_ignored::Path<'_>) -> Vec<Segment> {
    use serde_ignored::Path;
    let mut out = match path {
        Path::Root => return Vec::new(),
        Path::Seq { parent, .. }
        | Path::Map { parent, .. }
        | Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => segments(parent),
    };
    match path {
        Path::Seq { index, .. } => out.push(Segment::Index(*index)),
        Path::Map { key, .. } if !key.starts_with(SPANNED_KEY_PREFIX) => {
            out.push(Segment::Key(key.clone()))
        }
        _ => {}
    }
    out
}

/// `upstreams.x.urll`, with `[n]` for array elements.
fn dotted(path: &[Segment]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Segment::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Segment::Index(i) => s.push_str(&format!("[{}]", i + 1)),
        }
    }
    s
}

/// Where the last key of `path` starts in the document.
fn key_offset(doc: &ImDocument<&str>, path: &[Segment]) -> Option<usize> {
    let (last, parents) = path.split_last()?;
    let mut node = Node::Item(doc.as_item());
    for seg in parents {
        node = match seg {
            Segment::Key(k) => Node::Item(node.table()?.get_key_value(k)?.1),
            Segment::Index(i) => node.element(*i)?,
        };
    }
    match last {
        Segment::Key(k) => node.table()?.get_key_value(k)?.0.span().map(|s| s.start),
        Segment::Index(_) => None,
    }
}

/// A place in a parsed document: a table or array, of any of TOML's notations.
enum Node<'a> {
    Item(&'a Item),
    Table(&'a toml_edit::Table),
    Value(&'a Value),
}

impl<'a> Node<'a> {
    fn table(&self) -> Option<&'a dyn TableLike> {
        match *self {
            Node::Item(item) => item.as_table_like(),
            Node::Table(t) => Some(t),
            Node::Value(v) => v.as_inline_table().map(|t| t as &dyn TableLike),
        }
    }

    fn element(&self, index: usize) -> Option<Node<'a>> {
        match *self {
            Node::Item(Item::ArrayOfTables(a)) => a.get(index).map(Node::Table),
            Node::Item(Item::Value(Value::Array(a))) | Node::Value(Value::Array(a)) => {
                a.get(index).map(Node::Value)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use toml::Spanned;

    #[derive(Debug, Deserialize)]
    struct Doc {
        a: Inner,
        #[serde(default)]
        list: Vec<Spanned<Inner>>,
    }

    #[derive(Debug, Deserialize)]
    struct Inner {
        x: Spanned<u32>,
    }

    #[test]
    fn every_unknown_key_is_listed_with_its_line() {
        let text = "a = { x = 1, y = 2 }\nzz = 3\n\n[[list]]\nx = 1\n\n[[list]]\nx = 2\nw = 5\n";
        let problems = parse::<Doc>(text, "f.toml").unwrap_err();
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "f.toml:1: unknown key `a.y`",
                "f.toml:2: unknown key `zz`",
                "f.toml:9: unknown key `list[2].w`",
            ]
        );
    }

    #[test]
    fn type_errors_have_their_line_and_known_documents_parse() {
        let problems =
            parse::<Doc>("a = { x = 1 }\n[[list]]\nx = \"one\"\n", "f.toml").unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 3, "{:?}", problems);
        let doc = parse::<Doc>("a = { x = 7 }\n", "f.toml").unwrap();
        assert_eq!(*doc.a.x.get_ref(), 7);
        assert!(doc.list.is_empty());
    }
}
