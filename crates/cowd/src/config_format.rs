//! Parsing configuration documents written as JSON, TOML or YAML into one JSON [`Value`],
//! with the line and column of the first error.
//!
//! ```
//! use cowd::config_format::{parse, Format};
//!
//! let doc = parse(b"[server]\nport = 8080\n", Format::Toml).unwrap();
//! assert_eq!(doc["server"]["port"], 8080);
//!
//! let err = parse(b"a: 1\nb: [1, 2\n", Format::Yaml).unwrap_err();
//! assert_eq!(err.line, Some(3));
//! assert!(err.to_string().starts_with("YAML parse error at line 3, column"));
//! ```

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde_json::{Map, Number, Value};

/// A configuration file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// JSON (RFC 8259).
    Json,
    /// TOML 1.0.
    Toml,
    /// YAML 1.2 (one document).
    Yaml,
}

impl Format {
    /// The format named by a file's extension: `.json`, `.toml`, `.yaml` or `.yml`.
    ///
    /// ```
    /// use cowd::config_format::Format;
    /// assert_eq!(Format::from_path("app.yml".as_ref()), Some(Format::Yaml));
    /// assert_eq!(Format::from_path("app.conf".as_ref()), None);
    /// ```
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "json" => Some(Self::Json),
            "toml" => Some(Self::Toml),
            "yaml" | "yml" => Some(Self::Yaml),
            _ => None,
        }
    }

    /// The format named by a `Content-Type` header value (parameters ignored); `None` for an
    /// unknown type.
    ///
    /// ```
    /// use cowd::config_format::Format;
    /// assert_eq!(Format::from_content_type("application/json; charset=utf-8"), Some(Format::Json));
    /// assert_eq!(Format::from_content_type("application/toml"), Some(Format::Toml));
    /// assert_eq!(Format::from_content_type("text/yaml"), Some(Format::Yaml));
    /// assert_eq!(Format::from_content_type("image/png"), None);
    /// ```
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/json" | "text/json" => Some(Self::Json),
            "application/toml" | "text/toml" | "application/x-toml" => Some(Self::Toml),
            "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => {
                Some(Self::Yaml)
            }
            _ if essence.ends_with("+json") => Some(Self::Json),
            _ => None,
        }
    }

    /// The format's name as users write it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Json => "JSON",
            Self::Toml => "TOML",
            Self::Yaml => "YAML",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "toml" => Ok(Self::Toml),
            "yaml" | "yml" => Ok(Self::Yaml),
            other => Err(format!("unknown format `{other}`: use json, toml or yaml")),
        }
    }
}

/// Why a document could not be parsed, and where (1-based line and column, when known).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    /// The format that was being parsed.
    pub format: Format,
    /// 1-based line of the error, if known.
    pub line: Option<usize>,
    /// 1-based column (in characters) of the error, if known.
    pub column: Option<usize>,
    /// What the parser said.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} parse error", self.format)?;
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, " at line {line}, column {column}")?,
            (Some(line), None) => write!(f, " at line {line}")?,
            _ => {}
        }
        write!(f, ": {}", self.message)
    }
}

impl ParseError {
    fn new(format: Format, message: impl Into<String>) -> Self {
        Self {
            format,
            line: None,
            column: None,
            message: message.into(),
        }
    }

    fn at(mut self, line: usize, column: usize) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    fn at_offset(self, text: &str, offset: usize) -> Self {
        let (line, column) = line_column(text, offset);
        self.at(line, column)
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Parses `input` as `format` into a JSON value.
///
/// TOML datetimes become RFC 3339 strings; YAML merge keys (`<<`) are applied and non-string
/// YAML keys (numbers, booleans) become strings. Values JSON cannot represent (NaN, infinity)
/// are errors.
pub fn parse(input: &[u8], format: Format) -> Result<Value, ParseError> {
    let text = std::str::from_utf8(input).map_err(|e| {
        let valid = std::str::from_utf8(&input[..e.valid_up_to()]).unwrap_or_default();
        let (line, column) = line_column(valid, valid.len());
        ParseError::new(format, "the document is not valid UTF-8").at(line, column)
    })?;
    match format {
        Format::Json => parse_json(text),
        Format::Toml => parse_toml(text),
        Format::Yaml => parse_yaml(text),
    }
}

fn parse_json(text: &str) -> Result<Value, ParseError> {
    serde_json::from_str(text).map_err(|e| {
        let message = strip_position(&e.to_string());
        ParseError::new(Format::Json, message).at(e.line().max(1), e.column().max(1))
    })
}

/// serde_json and serde_yaml append " at line L column C" to messages; we report it apart.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn parse_toml(text: &str) -> Result<Value, ParseError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let error = ParseError::new(Format::Toml, e.message().trim().to_owned());
        match e.span() {
            Some(span) => error.at_offset(text, span.start),
            None => error,
        }
    })?;
    toml_to_json(toml::Value::Table(table), "")
}

fn toml_to_json(value: toml::Value, path: &str) -> Result<Value, ParseError> {
    Ok(match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => Value::Number(Number::from_f64(f).ok_or_else(|| {
            ParseError::new(
                Format::Toml,
                format!("{f} at `{path}` cannot be represented in JSON"),
            )
        })?),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| toml_to_json(v, &format!("{path}/{i}")))
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(table) => {
            let mut map = Map::with_capacity(table.len());
            for (key, v) in table {
                let child = format!("{path}/{key}");
                map.insert(key, toml_to_json(v, &child)?);
            }
            Value::Object(map)
        }
    })
}

fn parse_yaml(text: &str) -> Result<Value, ParseError> {
    let mut value: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(yaml_error)?;
    value.apply_merge().map_err(yaml_error)?;
    yaml_to_json(value, "")
}

fn yaml_error(e: serde_yaml_ng::Error) -> ParseError {
    let error = ParseError::new(Format::Yaml, strip_position(&e.to_string()));
    match e.location() {
        Some(location) => error.at(location.line(), location.column()),
        None => error,
    }
}

fn yaml_to_json(value: serde_yaml_ng::Value, path: &str) -> Result<Value, ParseError> {
    use serde_yaml_ng::Value as Y;
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                Value::Number(Number::from_f64(f).ok_or_else(|| {
                    ParseError::new(
                        Format::Yaml,
                        format!("{f} at `{path}` cannot be represented in JSON"),
                    )
                })?)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| yaml_to_json(v, &format!("{path}/{i}")))
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(mapping) => {
            let mut map = Map::with_capacity(mapping.len());
            for (key, v) in mapping {
                let key = match key {
                    Y::String(s) => s,
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    Y::Null => "null".to_owned(),
                    other => {
                        return Err(ParseError::new(
                            Format::Yaml,
                            format!(
                                "a mapping key at `{path}` is a {}; JSON keys must be strings",
                                yaml_kind(&other)
                            ),
                        ));
                    }
                };
                let child = format!("{path}/{key}");
                map.insert(key, yaml_to_json(v, &child)?);
            }
            Value::Object(map)
        }
        Y::Tagged(tagged) => yaml_to_json(tagged.value, path)?,
    })
}

fn yaml_kind(value: &serde_yaml_ng::Value) -> &'static str {
    use serde_yaml_ng::Value as Y;
    match value {
        Y::Null => "null",
        Y::Bool(_) => "boolean",
        Y::Number(_) => "number",
        Y::String(_) => "string",
        Y::Sequence(_) => "sequence",
        Y::Mapping(_) => "mapping",
        Y::Tagged(_) => "tagged value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_errors_have_positions() {
        let err = parse(b"{\n  \"a\": 1,\n  \"b\": }\n", Format::Json).unwrap_err();
        assert_eq!((err.line, err.column), (Some(3), Some(8)));
        assert!(!err.message.contains("at line"), "{}", err.message);
    }

    #[test]
    fn toml_converts_and_reports_positions() {
        let doc = parse(
            b"title = \"x\"\nwhen = 1979-05-27T07:32:00Z\n[db]\nports = [1, 2]\nratio = 0.5\n",
            Format::Toml,
        )
        .unwrap();
        assert_eq!(
            doc,
            json!({"title": "x", "when": "1979-05-27T07:32:00Z", "db": {"ports": [1, 2], "ratio": 0.5}})
        );
        let err = parse(b"a = 1\nb = \n", Format::Toml).unwrap_err();
        assert_eq!(err.line, Some(2), "{err}");
        let err = parse(b"a = nan\n", Format::Toml).unwrap_err();
        assert!(err.message.contains("cannot be represented"), "{err}");
    }

    #[test]
    fn toml_keeps_key_order() {
        let doc = parse(b"z = 1\na = 2\nm = 3\n", Format::Toml).unwrap();
        let keys: Vec<_> = doc.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["z", "a", "m"]);
    }

    #[test]
    fn yaml_converts_keys_and_merges() {
        let doc = parse(
            b"base: &b\n  x: 1\nderived:\n  <<: *b\n  y: 2\n1: one\ntrue: yes\n",
            Format::Yaml,
        )
        .unwrap();
        assert_eq!(doc["derived"], json!({"x": 1, "y": 2}));
        assert_eq!(doc["1"], "one");
        assert_eq!(doc["true"], "yes");
        let err = parse(b"a: 1\n  b: 2\n", Format::Yaml).unwrap_err();
        assert_eq!(err.line, Some(2), "{err}");
        assert!(err.column.is_some());
    }

    #[test]
    fn invalid_utf8_is_located() {
        let err = parse(b"{\"a\":\n\"\xff\"}", Format::Json).unwrap_err();
        assert_eq!((err.line, err.column), (Some(2), Some(2)));
    }

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(line_column("é\nab", 4), (2, 2));
        assert_eq!(line_column("abc", 0), (1, 1));
    }
}
