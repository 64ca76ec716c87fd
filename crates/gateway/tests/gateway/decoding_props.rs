//! Property tests of everything that decodes client input: the WebSocket client-frame decoder,
//! the JSON request bodies, the `next` redirect target and the trusted-proxy ranges. Whatever
//! comes in, nothing panics, and every refusal is a typed error with a documented code and a
//! 4xx status (or an `error` frame code on the socket).

use actix_web::ResponseError;
use proptest::prelude::*;
use serde_json::{Value, json};
use sesh_gateway::{
    error::ApiError,
    request::{MAX_JSON_BODY, decode_json, decode_optional_json, safe_next},
    routes::{api::CreateSession, parse_device_id, player::StartBody},
    settings::{DEFAULT_MAX_CAPACITY, ProxyRange},
    wire::{ClientFrame, DirectFrame, FrameError},
};

const FRAME_TYPES: &[&str] = &[
    "start",
    "play",
    "pause",
    "next",
    "previous",
    "seek",
    "volume",
    "repeat",
    "transfer",
    "reshuffle",
    "ping",
];
/// The fields a frame of `kind` may carry besides `type`.
fn frame_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "start" => &["device_id"],
        "seek" => &["position_ms"],
        "volume" => &["percent"],
        "repeat" => &["state"],
        "transfer" => &["device_id", "play"],
        _ => &[],
    }
}

const FRAME_CODES: &[&str] = &["malformed_frame", "unknown_type", "invalid_frame"];
const BODY_CODES: &[&str] = &[
    "invalid_json",
    "unsupported_media_type",
    "body_too_large",
    "invalid_capacity",
    "invalid_name",
    "invalid_device",
];

/// Any JSON value, nested a few levels.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,24}".prop_map(Value::String),
        long_text().prop_map(Value::String),
        prop::sample::select(FRAME_TYPES).prop_map(|t| json!(t)),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Text longer than what an error frame echoes back (64 bytes), multibyte characters where
/// the cut falls: ASCII runs of any length, then two-, three- and four-byte characters.
fn long_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{40,80}[é€😀]{1,30}",
        "[é€😀a-z]{20,120}",
        "\\PC{60,130}",
    ]
}

/// Object keys, biased towards the ones the decoders look at.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(&["type", "device_id", "capacity", "shuffle_mode", "since"][..])
            .prop_map(str::to_owned),
        1 => "[a-z_]{1,10}",
        1 => long_text(),
    ]
}

/// A frame-like object: a `type` (known or not) and a few random fields.
fn frame_like() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            3 => prop::sample::select(FRAME_TYPES).prop_map(|t| json!(t)),
            1 => any_json(),
        ],
        prop::collection::btree_map(key(), any_json(), 0..3),
    )
        .prop_map(|(kind, fields)| {
            let mut object: serde_json::Map<String, Value> = fields.into_iter().collect();
            object.insert("type".into(), kind);
            Value::Object(object)
        })
}

/// The decoder's verdict must be one a client can act on.
fn check_frame(text: &str) -> Result<ClientFrame, FrameError> {
    let result = ClientFrame::parse(text);
    if let Err(e) = &result {
        assert!(FRAME_CODES.contains(&e.code()), "{e:?}");
        // The refusal becomes an `error` frame that is valid JSON.
        let frame: Value =
            serde_json::from_str(&DirectFrame::error(e.code(), e.to_string()).to_json()).unwrap();
        assert_eq!(frame["type"], "error");
        assert_eq!(frame["code"], e.code());
    }
    result
}

fn check_refusal(error: &ApiError) {
    let status = error.status_code();
    assert!(status.is_client_error(), "{status} for {error:?}");
    assert!(BODY_CODES.contains(&error.code()), "{}", error.code());
    let body = serde_json::to_value(error.body()).unwrap();
    assert!(body["error"]["code"].is_string() && body["error"]["message"].is_string());
}

/// Content types a client might send.
fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        3 => Just(Some("application/json".to_owned())),
        1 => Just(Some("application/json; charset=utf-8".to_owned())),
        1 => Just(None),
        1 => Just(Some("text/plain".to_owned())),
        1 => Just(Some("application/x-www-form-urlencoded".to_owned())),
        1 => ".{0,30}".prop_map(Some),
    ]
}

/// Bodies: arbitrary bytes, arbitrary JSON, and near-misses of the real shapes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        any_json().prop_map(|v| v.to_string().into_bytes()),
        (any_json(), any_json()).prop_map(|(device, capacity)| json!({
            "device_id": device, "capacity": capacity
        })
        .to_string()
        .into_bytes()),
        ".{0,40}".prop_map(|s| json!({"device_id": s}).to_string().into_bytes()),
        (
            0usize..400,
            prop::sample::select(&["fair", "random", "loud"][..])
        )
            .prop_map(|(capacity, mode)| {
                json!({"capacity": capacity, "shuffle_mode": mode})
                    .to_string()
                    .into_bytes()
            }),
        Just(vec![b' '; MAX_JSON_BODY + 1]),
        Just(format!(r#"{{"device_id":"{}"}}"#, "a".repeat(MAX_JSON_BODY)).into_bytes()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_frames_never_panic(text in ".{0,200}") {
        check_frame(&text).ok();
    }

    #[test]
    fn long_multibyte_types_and_fields_never_panic(text in long_text(), field in long_text()) {
        check_frame(&json!({ "type": text }).to_string()).ok();
        check_frame(&json!({ "type": "play", field.clone(): 1 }).to_string()).ok();
        check_frame(&json!({ "type": text, field: text }).to_string()).ok();
    }

    #[test]
    fn arbitrary_bytes_as_frames_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        check_frame(&String::from_utf8_lossy(&bytes)).ok();
    }

    #[test]
    fn json_shaped_frames_decode_exactly_when_valid(value in frame_like()) {
        let text = value.to_string();
        let result = check_frame(&text);
        let kind = value["type"].as_str();
        let fields: Vec<&String> = value.as_object().unwrap().keys().filter(|k| *k != "type").collect();
        match (kind, result) {
            (Some("start"), Ok(ClientFrame::Start { device_id })) => {
                prop_assert_eq!(fields, vec!["device_id"]);
                prop_assert_eq!(Some(device_id.as_str()), value["device_id"].as_str());
            }
            (Some(kind), Ok(frame)) => {
                // Each type accepts its own fields and nothing else (field-less ones: only
                // `type`).
                let allowed = frame_fields(kind);
                prop_assert!(
                    fields.iter().all(|f| allowed.contains(&f.as_str())),
                    "{kind} with {fields:?} → {frame:?}"
                );
                prop_assert!(FRAME_TYPES.contains(&kind));
            }
            (Some(kind), Err(FrameError::UnknownType(shown))) => {
                prop_assert!(!FRAME_TYPES.contains(&kind));
                prop_assert!(shown.len() <= 64);
            }
            (Some(kind), Err(FrameError::Invalid { .. })) => {
                prop_assert!(FRAME_TYPES.contains(&kind));
            }
            (None, result) => prop_assert_eq!(result, Err(FrameError::Malformed)),
            (Some(_), Err(FrameError::Malformed)) => prop_assert!(false, "a string type is never malformed"),
        }
    }

    #[test]
    fn valid_frames_always_decode(kind in prop::sample::select(FRAME_TYPES), device in "[A-Za-z0-9]{1,40}") {
        let frame = match kind {
            "start" => json!({"type": kind, "device_id": device}),
            "seek" => json!({"type": kind, "position_ms": device.len() * 1000}),
            "volume" => json!({"type": kind, "percent": device.len()}),
            "repeat" => json!({"type": kind, "state": "track"}),
            "transfer" => json!({"type": kind, "device_id": device, "play": true}),
            _ => json!({"type": kind}),
        };
        prop_assert!(ClientFrame::parse(&frame.to_string()).is_ok());
    }

    #[test]
    fn start_bodies_decode_or_answer_4xx(content_type in content_type(), body in body()) {
        match decode_json::<StartBody>(content_type.as_deref(), &body) {
            Ok(start) => {
                // What the handler does next with the device id is also a 4xx at worst.
                if let Err(e) = parse_device_id(start.device_id()) {
                    check_refusal(&e);
                    prop_assert_eq!(e.code(), "invalid_device");
                }
            }
            Err(e) => check_refusal(&e),
        }
    }

    #[test]
    fn create_bodies_decode_or_answer_4xx(content_type in content_type(), body in body()) {
        match decode_optional_json::<CreateSession>(content_type.as_deref(), &body) {
            Ok(Some(create)) => {
                if let Err(e) = create.settings(DEFAULT_MAX_CAPACITY as usize) {
                    check_refusal(&e);
                    // A capacity out of range, or a `name` with a control character or over
                    // 60 characters.
                    prop_assert!(["invalid_capacity", "invalid_name"].contains(&e.code()), "{}", e.code());
                }
            }
            Ok(None) => prop_assert!(body.iter().all(u8::is_ascii_whitespace)),
            Err(e) => check_refusal(&e),
        }
    }

    #[test]
    fn accepted_next_paths_stay_on_our_origin(next in prop_oneof![
        ".{0,40}",
        "/[ -~]{0,40}",
        prop::sample::select(&["//", "/\\", "/\t/", "https:", "javascript:", "/%2F/", "\\/"][..])
            .prop_flat_map(|prefix| "[ -~]{0,20}".prop_map(move |rest| format!("{prefix}{rest}"))),
    ]) {
        if safe_next(&next) {
            let base = url::Url::parse("https://sesh.example/").unwrap();
            // What a browser would make of `Location: {next}`.
            let target = base.join(&next).unwrap();
            prop_assert_eq!(target.origin(), base.origin(), "{} escapes", next);
            prop_assert!(!next.contains(['\\', '\t', '\n', '\r', ' ']));
        }
    }

    #[test]
    fn proxy_ranges_parse_or_refuse_and_match_bitwise(text in ".{0,24}", a in any::<[u8; 4]>(), b in any::<[u8; 4]>(), prefix in 0u8..=32) {
        let _ = text.parse::<ProxyRange>();
        let range: ProxyRange = format!("{}/{prefix}", std::net::Ipv4Addr::from(a)).parse().unwrap();
        let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
        let expected = u32::from_be_bytes(a) & mask == u32::from_be_bytes(b) & mask;
        prop_assert_eq!(range.contains(std::net::IpAddr::from(b)), expected);
    }
}
