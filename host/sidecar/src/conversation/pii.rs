//! A PII scrubber in the spirit of daprd's (`aavaz-ai/pii-scrubber`): emails, IPv4 addresses, credit card numbers and phone numbers become `<EMAIL_ADDRESS>`, `<IP>`, `<CREDIT_CARD>`, `<PHONE_NUMBER>`.

/// What a span of text was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entity {
    Email,
    Ip,
    CreditCard,
    Phone,
}

impl Entity {
    fn placeholder(self) -> &'static str {
        match self {
            Entity::Email => "<EMAIL_ADDRESS>",
            Entity::Ip => "<IP>",
            Entity::CreditCard => "<CREDIT_CARD>",
            Entity::Phone => "<PHONE_NUMBER>",
        }
    }
}

fn is_local(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_{|.}~-".contains(&b)
}

/// The end of an email whose `@` is at `at`, and its start.
fn email(t: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut start = at;
    while start > 0 && is_local(t[start - 1]) {
        start -= 1;
    }
    if start == at {
        return None;
    }
    // Domain: labels of letters, digits and inner hyphens, at least two, dot separated.
    let mut end = at + 1;
    let mut labels = 0;
    let mut last_good = None;
    loop {
        let label_start = end;
        while end < t.len() && (t[end].is_ascii_alphanumeric() || t[end] == b'-') {
            end += 1;
        }
        let label = &t[label_start..end];
        if label.is_empty() || label[0] == b'-' || label[label.len() - 1] == b'-' {
            break;
        }
        labels += 1;
        if labels >= 2 {
            last_good = Some(end);
        }
        if end < t.len() && t[end] == b'.' {
            end += 1;
        } else {
            break;
        }
    }
    last_good.map(|e| (start, e))
}

fn digits_at(t: &[u8], i: usize) -> usize {
    t[i..].iter().take_while(|b| b.is_ascii_digit()).count()
}

/// An IPv4 address starting at `i`: four numbers of 1–3 digits, each at most 255.
fn ipv4(t: &[u8], i: usize) -> Option<usize> {
    let mut p = i;
    for part in 0..4 {
        let n = digits_at(t, p).min(3);
        if n == 0 {
            return None;
        }
        let v: u32 = std::str::from_utf8(&t[p..p + n]).ok()?.parse().ok()?;
        if v > 255 {
            return None;
        }
        p += n;
        if part < 3 {
            if t.get(p) != Some(&b'.') {
                return None;
            }
            p += 1;
        }
    }
    Some(p)
}

/// A card number starting at `i`: four groups of four digits (single `-` or space
/// between), or 15–16 digits in a row.
fn credit_card(t: &[u8], i: usize) -> Option<usize> {
    let run = digits_at(t, i);
    if run == 15 || run == 16 {
        return Some(i + run);
    }
    let mut p = i;
    for group in 0..4 {
        if digits_at(t, p) < 4 {
            return None;
        }
        p += 4;
        if group < 3 && matches!(t.get(p), Some(b'-' | b' ')) && digits_at(t, p + 1) >= 4 {
            p += 1;
        }
    }
    (digits_at(t, p) == 0).then_some(p)
}

/// A phone number starting at `i`: an optional `+`, then 7–15 digits with single
/// spaces, dots, hyphens or parentheses between them.
fn phone(t: &[u8], i: usize) -> Option<usize> {
    let mut p = i;
    if t.get(p) == Some(&b'+') {
        p += 1;
    }
    let mut digits = 0;
    let mut end = None;
    while p < t.len() {
        let b = t[p];
        if b.is_ascii_digit() {
            digits += 1;
            p += 1;
            if (7..=15).contains(&digits) {
                end = Some(p);
            }
        } else if b == b'('
            || b == b')'
            || (matches!(b, b' ' | b'-' | b'.')
                && t.get(p + 1)
                    .is_some_and(|n| n.is_ascii_digit() || *n == b'('))
        {
            // A separator counts only between digits (or before a parenthesis).
            p += 1;
        } else {
            break;
        }
        if digits > 15 {
            return None;
        }
    }
    end
}

/// Replaces every recognised entity of `text` with its placeholder. At each position
/// the longest match wins; numbers are only matched where a word starts.
pub(crate) fn scrub(text: &str) -> String {
    let t = text.as_bytes();
    let mut spans: Vec<(usize, usize, Entity)> = Vec::new();
    for (at, _) in text.match_indices('@') {
        if let Some((s, e)) = email(t, at) {
            spans.push((s, e, Entity::Email));
        }
    }
    let mut i = 0;
    while i < t.len() {
        let word_start = i == 0 || !t[i - 1].is_ascii_alphanumeric();
        let starts = t[i].is_ascii_digit() || matches!(t[i], b'+' | b'(');
        if word_start && starts {
            let best = [
                (ipv4(t, i), Entity::Ip),
                (credit_card(t, i), Entity::CreditCard),
                (phone(t, i), Entity::Phone),
            ]
            .into_iter()
            .filter_map(|(end, e)| end.map(|end| (end, e)))
            .filter(|(end, _)| t.get(*end).is_none_or(|b| !b.is_ascii_alphanumeric()))
            .fold(None::<(usize, Entity)>, |best, (end, e)| match best {
                Some((b, _)) if b >= end => best,
                _ => Some((end, e)),
            });
            if let Some((end, e)) = best {
                spans.push((i, end, e));
                i = end;
                continue;
            }
        }
        i += 1;
    }
    spans.sort_by_key(|&(s, e, _)| (s, std::cmp::Reverse(e)));
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for (s, e, entity) in spans {
        if s < pos {
            continue;
        }
        out.push_str(&text[pos..s]);
        out.push_str(entity.placeholder());
        pos = e;
    }
    out.push_str(&text[pos..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_are_replaced() {
        assert_eq!(
            scrub("mail jane.doe+x@example.co.uk now"),
            "mail <EMAIL_ADDRESS> now"
        );
        assert_eq!(scrub("from 192.168.0.1, ok"), "from <IP>, ok");
        assert_eq!(
            scrub("card 4111 1111 1111 1111 or 4111-1111-1111-1111."),
            "card <CREDIT_CARD> or <CREDIT_CARD>."
        );
        assert_eq!(scrub("call +1 (555) 123-4567"), "call <PHONE_NUMBER>");
        assert_eq!(scrub("or 555.123.4567!"), "or <PHONE_NUMBER>!");
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "hello world",
            "a@b",
            "@home",
            "version 1.2.3",
            "999.1.1.1x",
            "room 1234",
            "ab1234567",
            "übergröße 12",
        ] {
            assert_eq!(scrub(text), text);
        }
    }
}
