//! The SDP answer (RFC 3264) the gateway puts in its 200 OK: the caller's media goes to the media
//! server named in the configuration, in G.711 (PCMU or PCMA, whichever the caller prefers) with
//! RFC 4733 telephone events when offered. No RTP passes through this process.

use std::net::SocketAddr;

/// The payload type the gateway offers for telephone events when the caller made no offer.
const TELEPHONE_EVENT_PT: u8 = 101;

/// Why an offer cannot be answered (the INVITE gets 488 Not Acceptable Here).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// The body is not an SDP session description with an audio stream.
    #[error("the offer has no audio stream")]
    NoAudio,
    /// The audio stream is not plain RTP (for example SRTP).
    #[error("the audio stream uses {0}; only RTP/AVP is supported")]
    Profile(String),
    /// None of the offered codecs is PCMU or PCMA.
    #[error("none of the offered codecs is PCMU/8000 or PCMA/8000")]
    NoCommonCodec,
}

/// A G.711 codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Codec {
    Pcmu,
    Pcma,
}

impl Codec {
    fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }
}

/// What the answer carries: the chosen codec's payload type and the telephone-event one, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Choice {
    codec: Codec,
    payload_type: u8,
    telephone_event: Option<u8>,
}

/// The first G.711 codec of the offer's first audio stream, in the caller's order of preference.
fn choose(offer: &str) -> Result<Choice, SdpError> {
    let lines: Vec<&str> = offer.lines().map(str::trim_end).collect();
    let (index, media) = lines
        .iter()
        .enumerate()
        .find_map(|(index, line)| line.strip_prefix("m=audio ").map(|rest| (index, rest)))
        .ok_or(SdpError::NoAudio)?;
    let mut fields = media.split_whitespace();
    let port = fields.next().ok_or(SdpError::NoAudio)?;
    let profile = fields.next().ok_or(SdpError::NoAudio)?;
    if port == "0" {
        return Err(SdpError::NoAudio);
    }
    if profile != "RTP/AVP" {
        return Err(SdpError::Profile(profile.to_owned()));
    }
    let formats: Vec<u8> = fields.filter_map(|f| f.parse().ok()).collect();
    // The attributes of this media section: up to the next m= line.
    let section = lines[index + 1..]
        .iter()
        .take_while(|line| !line.starts_with("m="));
    let mut rtpmaps: Vec<(u8, String)> = Vec::new();
    for line in section {
        if let Some(map) = line.strip_prefix("a=rtpmap:")
            && let Some((payload_type, encoding)) = map.split_once(' ')
            && let Ok(payload_type) = payload_type.parse::<u8>()
        {
            rtpmaps.push((payload_type, encoding.trim().to_ascii_lowercase()));
        }
    }
    let encoding_of = |payload_type: u8| -> Option<String> {
        rtpmaps
            .iter()
            .find(|(pt, _)| *pt == payload_type)
            .map(|(_, encoding)| encoding.clone())
            .or_else(|| match payload_type {
                0 => Some("pcmu/8000".to_owned()),
                8 => Some("pcma/8000".to_owned()),
                _ => None,
            })
    };
    let codec = formats.iter().find_map(|&pt| {
        match encoding_of(pt).as_deref().map(|e| e.trim_end_matches("/1")) {
            Some("pcmu/8000") => Some((Codec::Pcmu, pt)),
            Some("pcma/8000") => Some((Codec::Pcma, pt)),
            _ => None,
        }
    });
    let (codec, payload_type) = codec.ok_or(SdpError::NoCommonCodec)?;
    let telephone_event = formats
        .iter()
        .copied()
        .find(|&pt| encoding_of(pt).as_deref() == Some("telephone-event/8000"));
    Ok(Choice {
        codec,
        payload_type,
        telephone_event,
    })
}

/// The session description the gateway sends: an answer to `offer`, or an offer of its own when
/// the INVITE had no body (the caller then answers in its ACK).
pub fn answer(offer: Option<&str>, media: SocketAddr, session_id: u64) -> Result<String, SdpError> {
    let choices = match offer {
        Some(offer) => vec![choose(offer)?],
        None => vec![
            Choice {
                codec: Codec::Pcmu,
                payload_type: 0,
                telephone_event: Some(TELEPHONE_EVENT_PT),
            },
            Choice {
                codec: Codec::Pcma,
                payload_type: 8,
                telephone_event: None,
            },
        ],
    };
    let family = if media.is_ipv4() { "IP4" } else { "IP6" };
    let ip = media.ip();
    let mut formats: Vec<String> = choices.iter().map(|c| c.payload_type.to_string()).collect();
    let telephone_event = choices.iter().find_map(|c| c.telephone_event);
    if let Some(pt) = telephone_event {
        formats.push(pt.to_string());
    }
    let mut sdp = format!(
        "v=0\r\no=callcenter {session_id} {session_id} IN {family} {ip}\r\ns=callcenter\r\n\
         c=IN {family} {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP {formats}\r\n",
        port = media.port(),
        formats = formats.join(" "),
    );
    for choice in &choices {
        sdp.push_str(&format!(
            "a=rtpmap:{} {}/8000\r\n",
            choice.payload_type,
            choice.codec.name()
        ));
    }
    if let Some(pt) = telephone_event {
        sdp.push_str(&format!(
            "a=rtpmap:{pt} telephone-event/8000\r\na=fmtp:{pt} 0-16\r\n"
        ));
    }
    sdp.push_str("a=sendrecv\r\n");
    Ok(sdp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media() -> SocketAddr {
        "10.0.0.5:40000".parse().unwrap()
    }

    const SIPP_OFFER: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n\
        c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

    #[test]
    fn the_answer_sends_the_callers_media_to_the_media_server_in_the_callers_codec() {
        let sdp = answer(Some(SIPP_OFFER), media(), 7).unwrap();
        assert!(sdp.contains("c=IN IP4 10.0.0.5\r\n"), "{sdp}");
        assert!(sdp.contains("m=audio 40000 RTP/AVP 0\r\n"), "{sdp}");
        assert!(sdp.contains("a=rtpmap:0 PCMU/8000\r\n"), "{sdp}");
        assert!(!sdp.contains("telephone-event"), "{sdp}");
    }

    #[test]
    fn the_callers_first_g711_codec_wins_and_telephone_events_are_kept() {
        let offer = "v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 5004 RTP/AVP 18 8 0 96\r\n\
            a=rtpmap:18 G729/8000\r\na=rtpmap:96 telephone-event/8000\r\n";
        let sdp = answer(Some(offer), media(), 1).unwrap();
        assert!(sdp.contains("m=audio 40000 RTP/AVP 8 96\r\n"), "{sdp}");
        assert!(sdp.contains("a=rtpmap:8 PCMA/8000\r\n"), "{sdp}");
        assert!(
            sdp.contains("a=rtpmap:96 telephone-event/8000\r\n"),
            "{sdp}"
        );
    }

    #[test]
    fn offers_the_gateway_cannot_answer_are_refused() {
        let video_only = "v=0\r\nm=video 5006 RTP/AVP 96\r\n";
        assert_eq!(answer(Some(video_only), media(), 1), Err(SdpError::NoAudio));
        let srtp = "v=0\r\nm=audio 5004 RTP/SAVP 0\r\n";
        assert!(matches!(
            answer(Some(srtp), media(), 1),
            Err(SdpError::Profile(_))
        ));
        let g729 = "v=0\r\nm=audio 5004 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";
        assert_eq!(answer(Some(g729), media(), 1), Err(SdpError::NoCommonCodec));
        let rejected = "v=0\r\nm=audio 0 RTP/AVP 0\r\n";
        assert_eq!(answer(Some(rejected), media(), 1), Err(SdpError::NoAudio));
    }

    #[test]
    fn without_an_offer_the_gateway_offers_g711_and_telephone_events() {
        let sdp = answer(None, "[2001:db8::5]:40000".parse().unwrap(), 1).unwrap();
        assert!(sdp.contains("c=IN IP6 2001:db8::5\r\n"), "{sdp}");
        assert!(sdp.contains("m=audio 40000 RTP/AVP 0 8 101\r\n"), "{sdp}");
    }
}
