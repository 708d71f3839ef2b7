//! Connection strings as the logs, errors and `--help` may show them: without a password or
//! token in any form they take (PostgreSQL, Redis and NATS URLs, PostgreSQL's keyword form).

/// URL schemes whose user information alone (`nats://TOKEN@host`) is a secret: NATS takes a
/// token there, where a database URL puts only a user name.
const TOKEN_SCHEMES: [&str; 4] = ["nats", "tls", "ws", "wss"];

/// `url` without its secrets: a URL's password (`postgres://u:secret@h`), a NATS URL's token
/// (`nats://secret@h`, also in a comma-separated list of servers), a `password` query
/// parameter (`?password=secret`), or a keyword-form password (`password=secret`, quoted or
/// not, with `\'` and `\\` inside quotes).
pub(crate) fn redact(url: &str) -> String {
    let shown = if url.contains(',') && token_scheme(url) {
        url.split(',')
            .map(|server| redact_user_info(server.trim()))
            .collect::<Vec<_>>()
            .join(",")
    } else {
        redact_user_info(url)
    };
    redact_password_keys(shown)
}

fn token_scheme(url: &str) -> bool {
    url.split_once("://")
        .is_some_and(|(scheme, _)| TOKEN_SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()))
}

/// The password in a URL's user information, or all of it for a NATS token.
fn redact_user_info(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |end| authority_start + end);
    let Some(at) = url[authority_start..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let at = authority_start + at;
    let credentials = &url[authority_start..at];
    match credentials.split_once(':') {
        Some((user, _)) => format!("{}{user}:***{}", &url[..authority_start], &url[at..]),
        None if token_scheme(url) => format!("{}***{}", &url[..authority_start], &url[at..]),
        None => url.to_owned(),
    }
}

/// Every `password = value` (keyword form or query parameter).
fn redact_password_keys(mut shown: String) -> String {
    let mut from = 0;
    while let Some(found) = shown[from..].to_ascii_lowercase().find("password") {
        let key_end = from + found + "password".len();
        let rest = &shown[key_end..];
        if !rest.trim_start().starts_with('=') {
            from = key_end;
            continue;
        }
        let value = rest.trim_start()[1..].trim_start();
        let value_start = shown.len() - value.len();
        let value_len = match value.strip_prefix('\'') {
            Some(quoted) => quoted_len(quoted).map_or(value.len(), |len| len + 1),
            None => value
                .find(|c: char| c == '&' || c.is_whitespace())
                .unwrap_or(value.len()),
        };
        shown.replace_range(value_start..value_start + value_len, "***");
        from = value_start + 3;
    }
    shown
}

/// The length of a quoted keyword value up to and including its closing quote (`quoted`
/// starts after the opening one); a backslash escapes the character after it, as libpq reads
/// it. `None` when the quote is never closed.
fn quoted_len(quoted: &str) -> Option<usize> {
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '\'' => return Some(i + 1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn database_passwords_stay_out_of_the_logs() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("host=h user=u"), "host=h user=u");
        assert_eq!(
            redact("host=h user=u password=secret dbname=d"),
            "host=h user=u password=*** dbname=d"
        );
        assert_eq!(
            redact("host=h password = 'sec ret' user=u"),
            "host=h password = *** user=u"
        );
        assert_eq!(
            redact("postgres://h/db?user=u&password=secret&sslmode=require"),
            "postgres://h/db?user=u&password=***&sslmode=require"
        );
        assert_eq!(redact("redis://:secret@h:6379/0"), "redis://:***@h:6379/0");
        // An @ in the path or query is not user information.
        assert_eq!(
            redact("postgres://h/db?application_name=a@b"),
            "postgres://h/db?application_name=a@b"
        );
    }

    #[test]
    fn a_quoted_password_with_escaped_quotes_is_hidden_whole() {
        assert_eq!(
            redact(r"host=h password='it\'s sec ret' user=u"),
            "host=h password=*** user=u"
        );
        assert_eq!(
            redact(r"password='ends in a backslash\\' dbname=d"),
            "password=*** dbname=d"
        );
        assert_eq!(
            redact(r"host=h password='a\'b\'c d' user=u"),
            "host=h password=*** user=u"
        );
        // Never closed: hidden to the end.
        assert_eq!(redact("host=h password='open"), "host=h password=***");
    }

    #[test]
    fn nats_passwords_and_tokens_stay_out_of_the_logs() {
        assert_eq!(
            redact("nats://relay:secret@127.0.0.1:4222"),
            "nats://relay:***@127.0.0.1:4222"
        );
        assert_eq!(
            redact("nats://s3cr3t-token@127.0.0.1:4222"),
            "nats://***@127.0.0.1:4222"
        );
        assert_eq!(
            redact("tls://u:p@a:4222,tls://tok@b:4222"),
            "tls://u:***@a:4222,tls://***@b:4222"
        );
        assert_eq!(redact("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
    }
}
