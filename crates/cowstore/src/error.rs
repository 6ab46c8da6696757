//! Typed errors of the write and subscription paths.

use std::borrow::Cow;
use std::convert::Infallible;
use std::fmt;

/// Why a validator refused a candidate value.
///
/// Build one from a message (`"timeout must be positive".into()`) and optionally say where in
/// the value the problem is with [`ValidationError::at`].
///
/// ```
/// use cowstore::ValidationError;
/// let err = ValidationError::new("must be positive").at("/timeout_ms");
/// assert_eq!(err.to_string(), "/timeout_ms: must be positive");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationError {
    message: Cow<'static, str>,
    path: Option<String>,
    validator: Option<Cow<'static, str>>,
}

impl ValidationError {
    /// A validation failure with `message`.
    ///
    /// ```
    /// assert_eq!(cowstore::ValidationError::new("empty host list").message(), "empty host list");
    /// ```
    pub fn new(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            message: message.into(),
            path: None,
            validator: None,
        }
    }

    /// Locates the problem inside the value (for instance a JSON pointer).
    ///
    /// ```
    /// let err = cowstore::ValidationError::new("bad").at("/hosts/0");
    /// assert_eq!(err.path(), Some("/hosts/0"));
    /// ```
    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// The message.
    ///
    /// ```
    /// assert_eq!(cowstore::ValidationError::new("x").message(), "x");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where the problem is, if the validator said.
    ///
    /// ```
    /// assert_eq!(cowstore::ValidationError::new("x").path(), None);
    /// ```
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// The name of the validator that failed (set by the store).
    ///
    /// ```
    /// let store = cowstore::Store::builder(1)
    ///     .validator("positive", |v: &i32| if *v > 0 { Ok(()) } else { Err("must be > 0".into()) })
    ///     .build()
    ///     .unwrap();
    /// let err = store.store(-1).unwrap_err();
    /// assert_eq!(err.validation().unwrap().validator(), Some("positive"));
    /// ```
    pub fn validator(&self) -> Option<&str> {
        self.validator.as_deref()
    }

    pub(crate) fn with_validator(mut self, name: Cow<'static, str>) -> Self {
        self.validator = Some(name);
        self
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "{path}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ValidationError {}

impl From<&'static str> for ValidationError {
    fn from(message: &'static str) -> Self {
        Self::new(message)
    }
}

impl From<String> for ValidationError {
    fn from(message: String) -> Self {
        Self::new(message)
    }
}

/// Why a write published nothing. The store is unchanged in every case.
///
/// `E` is the error type of the closure given to [`Store::try_update`](crate::Store::try_update);
/// other writes use the default, [`Infallible`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpdateError<E = Infallible> {
    /// A validator refused the candidate value.
    Rejected {
        /// The validator's reason.
        error: ValidationError,
        /// The version that stays current.
        current: u64,
    },
    /// [`Store::compare_and_set`](crate::Store::compare_and_set) expected another version.
    Conflict {
        /// The version the caller expected to replace.
        expected: u64,
        /// The version that is actually current.
        current: u64,
    },
    /// The closure of [`Store::try_update`](crate::Store::try_update) returned an error.
    Aborted(E),
    /// A validator of this store tried to write to the same store, which would deadlock or loop.
    Reentrant,
}

impl<E> UpdateError<E> {
    /// The validation error, if a validator rejected the write.
    ///
    /// ```
    /// let store = cowstore::Store::builder(1)
    ///     .validator("small", |v: &i32| if *v < 10 { Ok(()) } else { Err("too big".into()) })
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(store.store(99).unwrap_err().validation().unwrap().message(), "too big");
    /// ```
    pub fn validation(&self) -> Option<&ValidationError> {
        match self {
            Self::Rejected { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for UpdateError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected { error, current } => {
                match error.validator() {
                    Some(name) => write!(f, "validator `{name}` rejected the update: {error}")?,
                    None => write!(f, "the update was rejected: {error}")?,
                }
                write!(
                    f,
                    "; nothing was published, version {current} stays current"
                )
            }
            Self::Conflict { expected, current } => write!(
                f,
                "version conflict: expected to replace version {expected} but version {current} \
                 is current; reload, reapply the change and retry"
            ),
            Self::Aborted(error) => {
                write!(f, "the update was aborted: {error}; nothing was published")
            }
            Self::Reentrant => f.write_str(
                "a validator tried to write to the store it is validating; \
                 validators must only inspect the candidate value",
            ),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for UpdateError<E> {}

/// The store was dropped and no unseen version is left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Closed;

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the store was dropped; no further versions will be published")
    }
}

impl std::error::Error for Closed {}

/// Why [`Subscription::recv_timeout`](crate::Subscription::recv_timeout) returned no version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecvTimeoutError {
    /// No new version within the timeout.
    Timeout,
    /// The store was dropped.
    Closed,
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("no new version was published before the timeout"),
            Self::Closed => Closed.fmt(f),
        }
    }
}

impl std::error::Error for RecvTimeoutError {}

/// Why [`Subscription::try_recv`](crate::Subscription::try_recv) returned no version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryRecvError {
    /// Nothing new yet.
    Empty,
    /// The store was dropped.
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("no new version since the last one received"),
            Self::Closed => Closed.fmt(f),
        }
    }
}

impl std::error::Error for TryRecvError {}
