//! File name patterns: `*` matches any run of characters, `?` exactly one; everything else
//! matches itself. Patterns apply to names inside the folder, never to subfolders.

/// True when `name` matches `pattern`.
pub(super) fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative wildcard matching with backtracking to the last `*`.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn stars_and_question_marks() {
        assert!(matches("customers*.csv", "customers.csv"));
        assert!(matches("customers*.csv", "customers-2026-11.csv"));
        assert!(!matches("customers*.csv", "customers.csv.bak"));
        assert!(matches("orders-?.jsonl", "orders-1.jsonl"));
        assert!(!matches("orders-?.jsonl", "orders-12.jsonl"));
        assert!(matches("*", "anything"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(matches("invoices.csv", "invoices.csv"));
        assert!(!matches("invoices.csv", "Invoices.csv"));
    }
}
