//! Sentinel secrets: every auth and chat flow runs with real keys, PEMs, session credentials and
//! tokens while a capture subscriber records every log line at TRACE (including `log` records
//! from reqwest and hyper); none of those exact strings may appear in the logs, in any error's
//! `Display` or `Debug`, in any chat event or outcome, or in the `Debug` of configuration,
//! session and store types. Chat flows: a send through `ChatClient`, a 401 whose body echoes the
//! token, key and credential then a refresh and a retry, 503 and 429 backoffs, a mint retried
//! before the chat, a refusal echoing secrets, and an error event echoing them mid-stream.
//! One test function, because the capture subscriber is process-global.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth_support;
mod chat_support;

use std::sync::{Arc, Mutex};

use auth_support::{
    env_for, gateway, mint_error_from, minter, session, use_token, CountingStore, Mode,
};
use behest_desktop::core::auth::{MintParams, SystemClock};
use behest_desktop::core::chat::ChatStatus;
use behest_desktop::core::config::{Config, Env, Settings, StoredSecrets};
use behest_desktop::core::gateway::{Fault, Route};
use behest_desktop::core::redact::Secret;
use behest_desktop::core::secrets::{
    KeyringBackend, KeyringError, KeyringStore, SecretStore, DEFAULT_KEYRING_TIMEOUT,
};
use behest_desktop::core::token::TokenSource;
use chat_support::{read_request, send_collecting, sse_delta, write, TcpDouble, SSE_HEAD};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Failing;

impl KeyringBackend for Failing {
    fn get(&self, _s: &str, _n: &str) -> Result<Vec<u8>, KeyringError> {
        Err(KeyringError::NoStorageAccess("no session bus".into()))
    }
    fn set(&self, _s: &str, _n: &str, _v: &[u8]) -> Result<(), KeyringError> {
        Err(KeyringError::NoStorageAccess("no session bus".into()))
    }
    fn delete(&self, _s: &str, _n: &str) -> Result<(), KeyringError> {
        Err(KeyringError::NoStorageAccess("no session bus".into()))
    }
}

/// The `Display` and `Debug` of the error a minter built from `pairs` meets on its first mint.
async fn mint_error(pairs: &[(&str, &str)]) -> String {
    let e = mint_error_from(pairs).await;
    format!("{e} {e:?}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_logs_errors_or_debug_output() {
    let logs = Capture::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("the only subscriber of this test binary");

    let gw = gateway().await;
    let creds = gw.credentials();
    let mut secrets: Vec<String> = vec![
        creds.api_key.expose().to_string(),
        creds.session_token.expose().to_string(),
        creds.signing_key_pem.expose().to_string(),
    ];
    // Every base64 line of the PEM body, and the env forms of the key.
    secrets.extend(
        creds
            .signing_key_pem
            .expose()
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() > 16)
            .map(str::to_string),
    );
    for mode in [Mode::ApiKey, Mode::LocalSign, Mode::TokenEndpoint] {
        let env = env_for(mode, &gw);
        for name in ["BEHEST_KEY", "BEHEST_SESSION_TOKEN"] {
            if let Some(v) = env.raw(name) {
                secrets.push(v.to_string());
            }
        }
    }
    let wrong_key = format!("behest_sk_live_{}", uuid::Uuid::new_v4().simple());
    secrets.push(wrong_key.clone());
    let mut shown: Vec<String> = Vec::new();

    // Every mode end to end, with a 401 and a refresh.
    for mode in [
        Mode::TokenEndpoint,
        Mode::ApiKey,
        Mode::LocalSign,
        Mode::Demo,
    ] {
        let store = Arc::new(CountingStore::default());
        let s = session(mode, &gw, store).unwrap();
        let b = s.bearer().await.unwrap();
        secrets.push(b.token.expose().to_string());
        assert_eq!(use_token(&gw, &b).await, 200);
        s.invalidate(&b).await;
        let again = s.bearer().await.unwrap();
        secrets.push(again.token.expose().to_string());
        shown.push(format!("{s:?} {b:?} {again:?}"));
        let (config, _) = minter(mode, &gw, Arc::new(SystemClock)).unwrap();
        shown.push(format!("{config:?}"));
        shown.push(format!("{:?}", env_for(mode, &gw)));
    }

    // Error paths: unknown key, unknown session, a server echoing a token in its message.
    let base = gw.base_url();
    shown.push(
        mint_error(&[
            ("BEHEST_KEY", wrong_key.as_str()),
            ("BEHEST_BASE_URL", base.as_str()),
        ])
        .await,
    );
    secrets.push("sess_SENTINEL_TOK_unknown".into());
    shown.push(
        mint_error(&[
            ("BEHEST_TOKEN_URL", creds.token_url.as_str()),
            ("BEHEST_SESSION_TOKEN", "sess_SENTINEL_TOK_unknown"),
        ])
        .await,
    );
    let (_, m) = minter(Mode::ApiKey, &gw, Arc::new(SystemClock)).unwrap();
    let echoed = gw.mint("alice", None, 600).unwrap();
    secrets.push(echoed.expose().to_string());
    let refusal = |token: &Secret| {
        format!(
            r#"{{"error":{{"code":"invalid_token","message":"refused {} for {}"}}}}"#,
            token.expose(),
            creds.api_key.expose()
        )
    };
    gw.faults()
        .push(Route::Mint, Fault::status(401).body(refusal(&echoed)))
        .unwrap();
    let e = m.mint(&MintParams::default()).await.unwrap_err();
    shown.push(format!("{e} {e:?}"));

    // Malformed keys: the error names the variable, never the value.
    for raw in [
        "SENTINEL_KEY_garbage",
        "behest_pk_SENTINEL_PEM_notapem",
        "bh_live_SENTINEL_KEY_legacy",
    ] {
        secrets.push(raw.to_string());
        let e = Config::resolve(
            &Env::from_pairs([("BEHEST_KEY", raw)]),
            &Settings::default(),
            &StoredSecrets::default(),
        )
        .unwrap_err();
        shown.push(format!("{e} {e:?}"));
    }

    // A keyring that fails: the store degrades, logs why, and keeps the secrets in memory.
    let store = KeyringStore::with_backend("svc", Arc::new(Failing), DEFAULT_KEYRING_TIMEOUT);
    store.set("key", &creds.api_key).await.unwrap();
    assert_eq!(store.get("key").await.unwrap(), Some(creds.api_key.clone()));
    shown.push(format!("{store:?} {:?}", store.state()));
    let too_big = Secret::new(format!(
        "{}{}",
        creds.signing_key_pem.expose(),
        creds.signing_key_pem.expose()
    ));
    let e = store.set("key", &too_big).await.unwrap_err();
    shown.push(format!("{e} {e:?}"));

    // Chat flows through the real session in each HTTP-backed mode and local signing.
    let echo = |what: &str| {
        format!(
            r#"{{"error":{{"code":"invalid_token","message":"{what}: {} {} {}"}}}}"#,
            creds.api_key.expose(),
            creds.session_token.expose(),
            creds.signing_key_pem.expose().replace('\n', "\\n"),
        )
    };
    let fast = || chat_support::config(chat_support::IDLE);
    let retry_soon = |status: u16| Fault::status(status).header("retry-after-ms", "10");
    for (mode, mint_route) in [
        (Mode::TokenEndpoint, Some(Route::Token)),
        (Mode::ApiKey, Some(Route::Mint)),
        (Mode::LocalSign, None),
    ] {
        let tokens = Arc::new(session(mode, &gw, Arc::new(CountingStore::default())).unwrap());
        let client = chat_support::client(&gw.base_url(), tokens.clone(), fast());
        // The first token's mint fails once (echoing secrets) and is retried.
        if let Some(route) = mint_route {
            gw.faults()
                .push(route, retry_soon(503).body(echo("mint failed")))
                .unwrap();
        }
        let (out, events) = send_collecting(&client, &chat_support::send("sentinel one")).await;
        let out = out.unwrap();
        assert_eq!(out.status, ChatStatus::Completed, "{mode:?}");
        let first = tokens.bearer().await.unwrap();
        secrets.push(first.token.expose().to_string());
        shown.push(format!("{out:?} {:?}", events.lock().unwrap()));

        // A 401 echoing the token, then a refresh; a 503 and a 429, each waited out; then 200.
        gw.faults()
            .push(Route::Chat, Fault::status(401).body(refusal(&first.token)))
            .unwrap();
        gw.faults()
            .push(Route::Chat, retry_soon(503).body(echo("busy")))
            .unwrap();
        gw.faults()
            .push(Route::Chat, retry_soon(429).body(echo("slow down")))
            .unwrap();
        let (out, events) = send_collecting(&client, &chat_support::send("sentinel two")).await;
        let out = out.unwrap();
        assert_eq!(out.status, ChatStatus::Completed, "{mode:?}");
        let second = tokens.bearer().await.unwrap();
        assert_ne!(
            second.token, first.token,
            "{mode:?}: refreshed after the 401"
        );
        secrets.push(second.token.expose().to_string());
        shown.push(format!("{out:?} {:?}", events.lock().unwrap()));

        // Refusals that are final: a 402 echoing secrets, and an error event mid-stream.
        gw.faults()
            .push(Route::Chat, Fault::status(402).body(echo("quota")))
            .unwrap();
        gw.faults()
            .push(Route::Chat, Fault::stream().error_after(2))
            .unwrap();
        for _ in 0..2 {
            let (failure, events) =
                send_collecting(&client, &chat_support::send("sentinel three")).await;
            let failure = failure.unwrap_err();
            shown.push(format!(
                "{failure} {failure:?} {:?}",
                events.lock().unwrap()
            ));
        }

        // A server that echoes the token and the key in an error event after some text.
        let token = second.token.expose().to_string();
        let key = creds.api_key.expose().to_string();
        let double = TcpDouble::spawn(move |_, mut stream| {
            let event = format!(
                "data: {{\"error\":{{\"code\":\"server_error\",\"message\":\"bad {token} from {key}\"}}}}\n\n"
            );
            async move {
                read_request(&mut stream).await;
                write(&mut stream, SSE_HEAD).await;
                write(&mut stream, sse_delta("partial ", None).as_bytes()).await;
                write(&mut stream, event.as_bytes()).await;
            }
        })
        .await;
        let echoing = chat_support::client(&double.base_url(), tokens.clone(), fast());
        let (failure, events) =
            send_collecting(&echoing, &chat_support::send("sentinel four")).await;
        let failure = failure.unwrap_err();
        assert_eq!(failure.text, "partial ", "{mode:?}");
        shown.push(format!(
            "{failure} {failure:?} {:?} {echoing:?} {client:?}",
            events.lock().unwrap()
        ));
    }
    assert!(
        chat_support::chat_requests(&gw) >= 3 * 7,
        "every chat flow reached the gateway"
    );

    gw.shutdown().await;
    let captured = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        captured.contains("minting a token"),
        "the capture works at TRACE"
    );
    assert!(
        captured.contains("TRACE") || captured.contains("DEBUG"),
        "trace-level records were captured"
    );
    assert!(
        captured.contains("chat request failed, retrying")
            && captured.contains("token request failed, retrying"),
        "the chat and mint retry flows ran under the capture"
    );
    let shown = shown.join("\n");
    for secret in &secrets {
        assert!(!secret.is_empty());
        assert!(
            !captured.contains(secret.as_str()),
            "a secret reached the logs: {}…",
            &secret[..8.min(secret.len())]
        );
        assert!(
            !shown.contains(secret.as_str()),
            "a secret reached an error or Debug output: {}…",
            &secret[..8.min(secret.len())]
        );
    }
}
