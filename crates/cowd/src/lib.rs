//! `cowd`: a configuration server built on `cowstore`.
#![forbid(unsafe_code)]
