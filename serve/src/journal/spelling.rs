//! `journal_spelling!`: the one implementation of a typed value stored as text in a
//! journal column — `Display` and `FromStr` through the type's `as_str` and `ALL`, and
//! rusqlite's `ToSql` and `FromSql` through those. Text that is none of the spellings
//! reads as [`super::UnknownSpelling`], naming what it should have been.

/// Implements `Display`, `FromStr`, `ToSql` and `FromSql` for `$ty`, which has
/// `const ALL` (every variant) and `fn as_str(self) -> &'static str` (its one
/// spelling); `$what` names the type in errors (`"order status"`).
macro_rules! journal_spelling {
    ($ty:ty, $what:literal) => {
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::journal::UnknownSpelling;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|v| v.as_str() == text)
                    .ok_or_else(|| $crate::journal::UnknownSpelling { of: $what, text: text.to_string() })
            }
        }

        impl rusqlite::types::ToSql for $ty {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(rusqlite::types::ToSqlOutput::from(self.as_str()))
            }
        }

        impl rusqlite::types::FromSql for $ty {
            fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                value.as_str()?.parse().map_err(|e| rusqlite::types::FromSqlError::Other(Box::new(e)))
            }
        }
    };
}

pub(crate) use journal_spelling;
