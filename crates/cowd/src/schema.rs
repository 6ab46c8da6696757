//! Optional JSON Schema validation of every candidate document (`--schema FILE`).
//!
//! ```
//! use cowd::schema::Schema;
//! use serde_json::json;
//!
//! let schema = Schema::from_value(&json!({
//!     "type": "object",
//!     "properties": {"port": {"type": "integer", "maximum": 65535}},
//!     "required": ["port"]
//! })).unwrap();
//! assert!(schema.validate(&json!({"port": 8080})).is_ok());
//! let violations = schema.validate(&json!({"port": 70000})).unwrap_err();
//! assert_eq!(violations[0].pointer, "/port");
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::config_format::{self, Format, ParseError};

/// At most this many violations are reported for one document.
pub const MAX_VIOLATIONS: usize = 50;

/// A compiled JSON Schema.
pub struct Schema {
    validator: jsonschema::Validator,
    source: Option<PathBuf>,
}

/// One place where a document breaks the schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SchemaViolation {
    /// JSON pointer (RFC 6901) to the offending part of the document; `""` is the whole document.
    pub pointer: String,
    /// What is wrong there.
    pub message: String,
    /// JSON pointer to the schema keyword that failed.
    pub schema_path: String,
}

impl fmt::Display for SchemaViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "(document root)"
        } else {
            &self.pointer
        };
        write!(f, "{pointer}: {}", self.message)
    }
}

/// Why a schema could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The schema file could not be read.
    #[error("cannot read schema file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The schema file is not valid JSON/YAML/TOML.
    #[error("schema file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and why parsing failed.
        source: ParseError,
    },
    /// The document is not a valid JSON Schema.
    #[error("{}invalid JSON Schema: {message}", .path.as_ref().map(|p| format!("schema file {}: ", p.display())).unwrap_or_default())]
    Invalid {
        /// The file, if the schema came from one.
        path: Option<PathBuf>,
        /// What the schema compiler said.
        message: String,
    },
}

impl Schema {
    /// Loads a schema from a JSON (or YAML/TOML, by extension) file.
    pub fn load(path: &Path) -> Result<Self, SchemaError> {
        let bytes = std::fs::read(path).map_err(|source| SchemaError::Read {
            path: path.to_owned(),
            source,
        })?;
        let format = Format::from_path(path).unwrap_or(Format::Json);
        let value = config_format::parse(&bytes, format).map_err(|source| SchemaError::Parse {
            path: path.to_owned(),
            source,
        })?;
        let mut schema = Self::from_value(&value).map_err(|e| match e {
            SchemaError::Invalid { message, .. } => SchemaError::Invalid {
                path: Some(path.to_owned()),
                message,
            },
            other => other,
        })?;
        schema.source = Some(path.to_owned());
        Ok(schema)
    }

    /// Compiles a schema value. `$ref`s to remote documents are not fetched.
    pub fn from_value(schema: &Value) -> Result<Self, SchemaError> {
        let validator = jsonschema::validator_for(schema).map_err(|e| SchemaError::Invalid {
            path: None,
            message: e.to_string(),
        })?;
        Ok(Self {
            validator,
            source: None,
        })
    }

    /// The file the schema was loaded from.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// Checks `doc`; on failure returns up to [`MAX_VIOLATIONS`] violations, each located by a
    /// JSON pointer.
    pub fn validate(&self, doc: &Value) -> Result<(), Vec<SchemaViolation>> {
        let violations: Vec<SchemaViolation> = self
            .validator
            .iter_errors(doc)
            .take(MAX_VIOLATIONS)
            .map(|e| SchemaViolation {
                pointer: e.instance_path.to_string(),
                message: e.to_string(),
                schema_path: e.schema_path.to_string(),
            })
            .collect();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations)
        }
    }
}

/// The schema in force, which SIGHUP can replace (`--schema FILE` is re-read).
///
/// Every candidate document is checked against it ([`validate`](Self::validate)). The schema is
/// read-mostly shared state, so it sits in a [`cowstore::Store`]: checks take it without a lock,
/// and a reload publishes the new one with one swap (a check already running finishes with the
/// schema it started with).
///
/// ```
/// use cowd::schema::SchemaSlot;
/// use serde_json::json;
///
/// let dir = tempfile::tempdir().unwrap();
/// let file = dir.path().join("app.schema.json");
/// std::fs::write(&file, r#"{"required": ["port"]}"#).unwrap();
/// let slot = SchemaSlot::load(Some(&file)).unwrap();
/// assert!(slot.validate(&json!({"name": "a"})).is_err());
///
/// std::fs::write(&file, r#"{"required": ["name"]}"#).unwrap();
/// assert!(slot.reload().unwrap());
/// assert!(slot.validate(&json!({"name": "a"})).is_ok());
///
/// // A broken file keeps the schema in force.
/// std::fs::write(&file, "{").unwrap();
/// assert!(slot.reload().is_err());
/// assert!(slot.validate(&json!({"port": 1})).is_err());
/// ```
pub struct SchemaSlot {
    path: Option<PathBuf>,
    current: cowstore::Store<Option<Schema>>,
}

impl SchemaSlot {
    /// No schema: every document is accepted, and reloading does nothing.
    pub fn none() -> Self {
        Self {
            path: None,
            current: cowstore::Store::new(None),
        }
    }

    /// Loads `path` (if given); [`reload`](Self::reload) re-reads the same file.
    pub fn load(path: Option<&Path>) -> Result<Self, SchemaError> {
        let schema = path.map(Schema::load).transpose()?;
        Ok(Self {
            path: path.map(Path::to_owned),
            current: cowstore::Store::new(schema),
        })
    }

    /// The schema file, if the schema came from one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Checks `doc` against the schema in force (always `Ok` without one).
    pub fn validate(&self, doc: &Value) -> Result<(), Vec<SchemaViolation>> {
        match &*self.current.load() {
            Some(schema) => schema.validate(doc),
            None => Ok(()),
        }
    }

    /// Re-reads the schema file and puts it in force. Returns `false` without a file. On an
    /// error the schema in force stays.
    pub fn reload(&self) -> Result<bool, SchemaError> {
        let Some(path) = &self.path else {
            return Ok(false);
        };
        let schema = Schema::load(path)?;
        self.current
            .store(Some(schema))
            .expect("only `reload` writes this store, never from inside a write of it");
        Ok(true)
    }
}

impl fmt::Debug for SchemaSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaSlot")
            .field("path", &self.path)
            .field("loaded", &self.current.load().is_some())
            .finish()
    }
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schema")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_every_violation_with_pointers() {
        let schema = Schema::from_value(&json!({
            "type": "object",
            "properties": {
                "hosts": {"type": "array", "items": {"type": "string"}},
                "timeout_ms": {"type": "integer", "minimum": 1}
            },
            "additionalProperties": false
        }))
        .unwrap();
        let mut violations = schema
            .validate(&json!({"hosts": ["a", 2], "timeout_ms": 0, "extra": true}))
            .unwrap_err();
        violations.sort_by(|a, b| a.pointer.cmp(&b.pointer));
        let pointers: Vec<_> = violations.iter().map(|v| v.pointer.as_str()).collect();
        assert_eq!(pointers, ["", "/hosts/1", "/timeout_ms"]);
        assert!(
            violations[1].message.contains("string"),
            "{:?}",
            violations[1]
        );
    }

    #[test]
    fn invalid_schema_is_an_error() {
        let err = Schema::from_value(&json!({"type": "no-such-type"})).unwrap_err();
        assert!(matches!(err, SchemaError::Invalid { .. }), "{err}");
    }
}
