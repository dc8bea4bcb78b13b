//! Untrusted text made safe to log: what an HTTP request body, an exchange answer or a
//! data row holds goes through [`untrusted`] before it reaches a log line (or an error
//! message that is logged), so that a newline cannot forge a log line, terminal escape
//! codes cannot repaint the operator's screen, and a megabyte is not logged whole.

use std::fmt::Write;

/// The most characters of one untrusted string that are logged; the rest is counted.
pub const MAX_LOGGED_CHARS: usize = 200;

/// `text` escaped and truncated for a log line: control characters (newlines, carriage
/// returns, tabs, escape codes, C1 controls) and the Unicode line separators and bidi
/// overrides are written as Rust escapes (`\n`, `\u{1b}`, `\u{202e}`), everything else
/// as it is; after [`MAX_LOGGED_CHARS`] characters the rest is replaced by
/// `…[N more bytes]`. The result is one line.
pub fn untrusted(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(4 * MAX_LOGGED_CHARS) + 24);
    for (n, (at, c)) in text.char_indices().enumerate() {
        if n == MAX_LOGGED_CHARS {
            let _ = write!(out, "…[{} more bytes]", text.len() - at);
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => {
                let _ = write!(out, "{}", c.escape_unicode());
            }
            c => out.push(c),
        }
    }
    out
}

/// Characters that could break a log line or how it is shown.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newlines_and_escape_codes_are_escaped_and_long_text_is_cut() {
        assert_eq!(untrusted("fold-6-s1"), "fold-6-s1");
        assert_eq!(untrusted("a\nINFO forged"), "a\\nINFO forged");
        assert_eq!(untrusted("x\r\ty\u{1b}[31m"), "x\\r\\ty\\u{1b}[31m");
        assert_eq!(untrusted("évil\u{202e}txt"), "évil\\u{202e}txt");
        let long = "é".repeat(1_000_000);
        let cut = untrusted(&long);
        assert!(cut.starts_with(&"é".repeat(MAX_LOGGED_CHARS)), "the first characters are kept");
        assert!(cut.ends_with(&format!("…[{} more bytes]", 2 * (1_000_000 - MAX_LOGGED_CHARS))), "{cut}");
        assert!(cut.len() < 500 && !cut.contains('\n'));
    }
}
