//! Unit tests of the `chat` command's request building, prompt reading and exit codes.

use super::*;
use std::time::Duration;

#[test]
fn arguments_become_the_request() {
    let args = ChatArgs {
        model: Some(String::new()),
        system: Some("be brief".into()),
        session: Some("s1".into()),
        thread: Some("t1".into()),
        no_stream: true,
        temperature: Some(0.5),
        max_tokens: Some(7),
        ..ChatArgs::default()
    };
    let send = chat_send(&args, "hi".into());
    assert!(!send.stream);
    assert_eq!(
        send.request.model, None,
        "an empty model means the project default"
    );
    assert_eq!(send.request.messages.len(), 2);
    assert_eq!(send.request.messages[0].role, "system");
    assert_eq!(send.request.temperature, Some(0.5));
    assert_eq!(send.request.max_tokens, Some(7));
    assert_eq!(send.session_id.as_deref(), Some("s1"));
    assert_eq!(send.thread_id.as_deref(), Some("t1"));
}

#[test]
fn a_stored_conversation_is_the_context_and_flags_override_its_parameters() {
    let context = Context {
        params: ChatParams {
            model: Some("stored-model".into()),
            system_prompt: Some("stored system".into()),
            temperature: Some(0.2),
            max_tokens: Some(50),
        },
        messages: vec![
            ChatMessage::new("user", "first"),
            ChatMessage::new("assistant", "answer"),
        ],
    };
    let send = chat_send_in(&ChatArgs::default(), &context, "second".into());
    let roles: Vec<&str> = send
        .request
        .messages
        .iter()
        .map(|m| m.role.as_str())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    assert_eq!(send.request.messages[0].content, "stored system");
    assert_eq!(send.request.messages[3].content, "second");
    assert_eq!(send.request.model.as_deref(), Some("stored-model"));
    assert_eq!(
        (send.request.temperature, send.request.max_tokens),
        (Some(0.2), Some(50))
    );
    let args = ChatArgs {
        model: Some("flag-model".into()),
        system: Some("flag system".into()),
        temperature: Some(1.5),
        ..ChatArgs::default()
    };
    let send = chat_send_in(&args, &context, "second".into());
    assert_eq!(send.request.messages[0].content, "flag system");
    assert_eq!(send.request.model.as_deref(), Some("flag-model"));
    assert_eq!(
        (send.request.temperature, send.request.max_tokens),
        (Some(1.5), Some(50))
    );
    let blank = Context {
        params: ChatParams {
            system_prompt: Some("  ".into()),
            ..ChatParams::default()
        },
        messages: Vec::new(),
    };
    let send = chat_send_in(&ChatArgs::default(), &blank, "hi".into());
    assert_eq!(
        send.request.messages.len(),
        1,
        "a blank system prompt is not sent"
    );
}

#[test]
fn the_prompt_comes_from_the_argument_or_stdin() {
    let mut stdin: &[u8] = b"from stdin";
    assert_eq!(
        read_prompt(Some("arg"), &mut stdin).ok().as_deref(),
        Some("arg")
    );
    assert_eq!(
        read_prompt(Some("-"), &mut stdin).ok().as_deref(),
        Some("from stdin")
    );
    let mut empty: &[u8] = b"  \n";
    assert!(matches!(
        read_prompt(None, &mut empty),
        Err(Error::InvalidSettings { .. })
    ));
}

#[test]
fn exit_codes_by_error() {
    let failure = || {
        Box::new(crate::core::HttpFailure {
            status: 429,
            code: None,
            message: "m".into(),
            trace_id: None,
            retry_after: Some(Duration::from_secs(1)),
            details: None,
        })
    };
    let table = [
        (Error::settings("X", "y"), exit::CONFIG),
        (
            Error::InvalidInput {
                what: "conversation id".into(),
                reason: "no conversation x".into(),
            },
            exit::CONFIG,
        ),
        (Error::BadRequest(failure()), exit::CONFIG),
        (Error::Unauthorized(failure()), exit::UNAUTHORIZED),
        (Error::Forbidden(failure()), exit::UNAUTHORIZED),
        (Error::QuotaExceeded(failure()), exit::QUOTA),
        (Error::RateLimited(failure()), exit::RATE_LIMITED),
        (Error::Upstream(failure()), exit::NETWORK),
        (Error::StreamError(failure()), exit::NETWORK),
        (Error::Network("down".into()), exit::NETWORK),
        (Error::Timeout("slow".into()), exit::NETWORK),
    ];
    for (error, code) in table {
        assert_eq!(exit_code(&error), code, "{error:?}");
    }
}
