//! Keys a caller pressed, as SIP INFO bodies carry them.
//!
//! - `application/dtmf-relay` (the common Cisco form): `Signal=5` and `Duration=160` lines;
//! - `application/dtmf`: the key alone.
//!
//! Other INFO packages carry no keys. `A`–`D` (rare on phones) and flash events are ignored.

/// The keys in an INFO body of `content_type`, if it carries any.
pub fn keys(content_type: Option<&str>, body: &[u8]) -> Option<String> {
    let media_type = content_type?
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let body = std::str::from_utf8(body).ok()?;
    let signal = match media_type.as_str() {
        "application/dtmf-relay" => body.lines().find_map(|line| {
            let (name, value) = line.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("signal")
                .then(|| value.trim())
        })?,
        "application/dtmf" => body.trim(),
        _ => return None,
    };
    let key = match signal {
        // RFC 4733 event codes 10 and 11 are * and #; some phones send them as numbers.
        "10" => '*',
        "11" => '#',
        single if single.len() == 1 => single.chars().next()?,
        _ => return None,
    };
    (key.is_ascii_digit() || key == '*' || key == '#').then(|| key.to_string())
}

#[cfg(test)]
mod tests {
    use super::keys;

    #[test]
    fn dtmf_relay_and_plain_dtmf_bodies_carry_one_key() {
        let relay = Some("application/dtmf-relay");
        assert_eq!(
            keys(relay, b"Signal=5\r\nDuration=160\r\n"),
            Some("5".into())
        );
        assert_eq!(keys(relay, b"Signal= #\r\nDuration=100"), Some("#".into()));
        assert_eq!(keys(relay, b"signal=10\r\n"), Some("*".into()));
        assert_eq!(keys(Some("application/dtmf"), b"9\r\n"), Some("9".into()));
        assert_eq!(
            keys(Some("Application/DTMF-Relay; charset=x"), b"Signal=1"),
            Some("1".into())
        );
    }

    #[test]
    fn other_bodies_carry_no_keys() {
        assert_eq!(keys(None, b"Signal=5"), None);
        assert_eq!(keys(Some("application/sdp"), b"Signal=5"), None);
        assert_eq!(keys(Some("application/dtmf-relay"), b"Duration=160"), None);
        assert_eq!(keys(Some("application/dtmf-relay"), b"Signal=A"), None);
        assert_eq!(keys(Some("application/dtmf"), b"16"), None);
        assert_eq!(keys(Some("application/dtmf"), &[0xff, 0xfe]), None);
    }
}
