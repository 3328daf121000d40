//! Glob patterns: `*` matches any run of characters (`/` and `:` included,
//! so one `*` spans the rest of an ARN), `?` exactly one character, every
//! other character itself, case-sensitively. Shared by mutes (rule ids,
//! resources, accounts, regions, tag values) and alert suppressions (rule
//! ids).

/// Whether `pattern` has a wildcard (`*` or `?`); without one it matches
/// only the identical text.
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

/// Whether `text` matches `pattern` as a whole. Linear in the common case,
/// never worse than `pattern.len() * text.len()` steps.
pub fn matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // The last `*` seen and the text position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                // Let the last `*` take one more character and retry.
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_span_any_characters_and_question_marks_one() {
        assert!(matches(
            "arn:aws:s3:::acme-*-scratch",
            "arn:aws:s3:::acme-eu-analytics-scratch"
        ));
        assert!(matches(
            "arn:aws:ec2:*:*:instance/*",
            "arn:aws:ec2:us-east-1:1:instance/i-1"
        ));
        assert!(matches("*", ""));
        assert!(matches("us-east-?", "us-east-1"));
        assert!(!matches("us-east-?", "us-east-10"));
        assert!(!matches("arn:aws:s3:::acme-*", "arn:aws:s3:::other"));
        assert!(!matches("aws-s3-*", "aws-ec2-x"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
    }

    #[test]
    fn text_without_wildcards_matches_only_itself() {
        assert!(!is_glob("aws-s3-bucket-versioning-enabled"));
        assert!(is_glob("aws-s3-*"));
        assert!(matches("abc", "abc"));
        assert!(!matches("abc", "abcd"));
        assert!(!matches("abc", "ABC"));
    }
}
