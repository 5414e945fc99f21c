//! Session logic against a fake minter and a counting store (no network).

use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;

use super::*;
use crate::core::auth::{ManualClock, Minted};
use crate::core::redact::Secret;
use crate::core::secrets::MemoryStore;
use crate::core::Error;

const T0: i64 = 1_800_000_000;

struct FakeMinter {
    clock: Arc<ManualClock>,
    calls: AtomicUsize,
    ttl: u64,
    /// Seconds added to the token's exp relative to the local clock (simulates skew).
    exp_offset: i64,
    fail: bool,
    seen_sessions: Mutex<Vec<Option<String>>>,
}

impl FakeMinter {
    fn new(clock: Arc<ManualClock>) -> Self {
        FakeMinter {
            clock,
            calls: AtomicUsize::new(0),
            ttl: 3600,
            exp_offset: 0,
            fail: false,
            seen_sessions: Mutex::new(Vec::new()),
        }
    }
}

fn jwt(exp: i64, n: usize) -> String {
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.sig{n}",
        e.encode(br#"{"alg":"RS256"}"#),
        e.encode(format!(r#"{{"exp":{exp},"n":{n}}}"#))
    )
}

impl Minter for FakeMinter {
    fn mode(&self) -> &'static str {
        "fake"
    }
    fn scope(&self) -> String {
        "fake|http://127.0.0.1:1".into()
    }
    fn mint<'a>(&'a self, params: &'a MintParams) -> BoxFuture<'a, Result<Minted>> {
        Box::pin(async move {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if let Ok(mut s) = self.seen_sessions.lock() {
                s.push(params.session_id.clone());
            }
            // Long enough that every concurrent caller is waiting on the refresh.
            tokio::time::sleep(Duration::from_millis(50)).await;
            if self.fail {
                return Err(Error::Network("connection refused".into()));
            }
            let now = self.clock.now();
            Ok(Minted {
                token: Secret::new(jwt(now + self.exp_offset + self.ttl as i64, n)),
                ttl: self.ttl,
                session_id: Some(
                    params
                        .session_id
                        .clone()
                        .unwrap_or_else(|| format!("sess-{n}")),
                ),
                expires_at: None,
                http_status: None,
                trace_id: None,
            })
        })
    }
}

#[derive(Default)]
struct CountingStore {
    inner: MemoryStore,
    sets: AtomicUsize,
    deletes: AtomicUsize,
}

impl SecretStore for CountingStore {
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Secret>>> {
        self.inner.get(name)
    }
    fn set<'a>(&'a self, name: &'a str, value: &'a Secret) -> BoxFuture<'a, Result<()>> {
        self.sets.fetch_add(1, Ordering::SeqCst);
        self.inner.set(name, value)
    }
    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<()>> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(name)
    }
    fn state(&self) -> KeyringState {
        KeyringState::Persisted
    }
}

fn setup(
    minter: FakeMinter,
) -> (
    Arc<Session>,
    Arc<FakeMinter>,
    Arc<CountingStore>,
    Arc<ManualClock>,
) {
    let clock = Arc::clone(&minter.clock);
    let minter = Arc::new(minter);
    let store = Arc::new(CountingStore::default());
    let session = Arc::new(Session::new(
        minter.clone(),
        store.clone(),
        clock.clone(),
        SessionOptions::default(),
    ));
    (session, minter, store, clock)
}

async fn concurrent(session: &Arc<Session>, n: usize) -> Vec<Result<Bearer>> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let s = Arc::clone(session);
            tokio::spawn(async move { s.bearer().await })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(
            t.await
                .unwrap_or_else(|e| Err(Error::Network(e.to_string()))),
        );
    }
    out
}

#[tokio::test(start_paused = true)]
async fn fifty_concurrent_callers_cause_one_mint_and_one_store_write() -> Result<()> {
    let (session, minter, store, clock) = setup(FakeMinter::new(Arc::new(ManualClock::new(T0))));
    let first = session.bearer().await?;
    assert_eq!(
        (
            minter.calls.load(Ordering::SeqCst),
            store.sets.load(Ordering::SeqCst)
        ),
        (1, 1)
    );
    // Expire it, then 50 callers at once.
    clock.advance(3600);
    let results = concurrent(&session, 50).await;
    assert_eq!(minter.calls.load(Ordering::SeqCst), 2);
    assert_eq!(store.sets.load(Ordering::SeqCst), 2);
    let tokens: std::collections::HashSet<String> = results
        .into_iter()
        .map(|r| r.map(|b| b.token.expose().to_string()))
        .collect::<Result<_>>()?;
    assert_eq!(tokens.len(), 1);
    assert!(!tokens.contains(first.token.expose()));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn refreshes_ahead_of_expiry_and_keeps_the_session_id() -> Result<()> {
    let (session, minter, _store, clock) = setup(FakeMinter::new(Arc::new(ManualClock::new(T0))));
    let a = session.bearer().await?;
    assert_eq!(a.session_id.as_deref(), Some("sess-1"));
    assert_eq!(a.expires_at, Some(T0 + 3600));
    clock.advance(3600 - 61);
    assert_eq!(
        session.bearer().await?,
        a,
        "61 s before expiry the token is still served"
    );
    clock.advance(1);
    let b = session.bearer().await?;
    assert_ne!(b.token, a.token, "60 s before expiry it is refreshed");
    assert_eq!(b.session_id.as_deref(), Some("sess-1"));
    assert_eq!(minter.calls.load(Ordering::SeqCst), 2);
    let seen = minter
        .seen_sessions
        .lock()
        .map(|s| s.clone())
        .unwrap_or_default();
    assert_eq!(seen, vec![None, Some("sess-1".to_string())]);
    assert_eq!(session.session_id().as_deref(), Some("sess-1"));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn invalidate_drops_only_the_current_token() -> Result<()> {
    let (session, minter, store, _clock) = setup(FakeMinter::new(Arc::new(ManualClock::new(T0))));
    let a = session.bearer().await?;
    session.invalidate(&a).await;
    let b = session.bearer().await?;
    assert_ne!(a.token, b.token);
    assert_eq!(minter.calls.load(Ordering::SeqCst), 2);
    // Fifty requests that all used `a` report it refused: `b` survives.
    for _ in 0..50 {
        session.invalidate(&a).await;
    }
    assert_eq!(session.bearer().await?, b);
    assert_eq!(minter.calls.load(Ordering::SeqCst), 2);
    assert_eq!(store.deletes.load(Ordering::SeqCst), 1);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_restart_reuses_the_stored_token_and_session() -> Result<()> {
    let (session, minter, store, clock) = setup(FakeMinter::new(Arc::new(ManualClock::new(T0))));
    let a = session.bearer().await?;
    let again = Session::new(
        minter.clone(),
        store.clone(),
        clock.clone(),
        SessionOptions::default(),
    );
    assert_eq!(again.bearer().await?, a);
    assert_eq!(minter.calls.load(Ordering::SeqCst), 1);
    // Stale in the store: minted again, with the stored session id.
    clock.advance(3600);
    let third = Session::new(
        minter.clone(),
        store.clone(),
        clock.clone(),
        SessionOptions::default(),
    );
    let c = third.bearer().await?;
    assert_ne!(c.token, a.token);
    assert_eq!(c.session_id.as_deref(), Some("sess-1"));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_restored_token_is_refreshed_when_a_fresh_one_would_be() -> Result<()> {
    // A 100 s token with the 60 s margin: a fresh one is served until half its lifetime
    // (T0 + 50), not only until expiry − margin (T0 + 40). After a restart it must be the same.
    let mut m = FakeMinter::new(Arc::new(ManualClock::new(T0)));
    m.ttl = 100;
    let (session, minter, store, clock) = setup(m);
    let a = session.bearer().await?;
    clock.advance(45);
    assert_eq!(session.bearer().await?, a, "fresh: still served at T0 + 45");
    let restored = Session::new(
        minter.clone(),
        store.clone(),
        clock.clone(),
        SessionOptions::default(),
    );
    assert_eq!(
        restored.bearer().await?,
        a,
        "restored: also served at T0 + 45"
    );
    assert_eq!(minter.calls.load(Ordering::SeqCst), 1);
    clock.advance(5);
    let b = restored.bearer().await?;
    assert_ne!(b.token, a.token, "both refresh at T0 + 50");
    assert_eq!(minter.calls.load(Ordering::SeqCst), 2);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_corrupt_stored_token_is_deleted_and_replaced() -> Result<()> {
    let clock = Arc::new(ManualClock::new(T0));
    let (session, minter, store, _) = setup(FakeMinter::new(clock));
    // Learn the slot's store name by storing once, then corrupt the value.
    session.bearer().await?;
    let name = session.default.store_name.clone();
    store
        .inner
        .set(
            &name,
            &Secret::new(r#"{"token":"garbage","expiresAt":9999999999}"#),
        )
        .await?;
    let fresh = Session::new(
        minter.clone(),
        store.clone(),
        session.clock.clone(),
        SessionOptions::default(),
    );
    let b = fresh.bearer().await?;
    assert!(b.token.expose().starts_with("eyJ"));
    assert_eq!(minter.calls.load(Ordering::SeqCst), 2);
    assert_eq!(store.deletes.load(Ordering::SeqCst), 1);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn waiters_share_a_failed_refresh() {
    let mut m = FakeMinter::new(Arc::new(ManualClock::new(T0)));
    m.fail = true;
    let (session, minter, _store, _clock) = setup(m);
    let results = concurrent(&session, 20).await;
    assert!(results.iter().all(|r| matches!(r, Err(Error::Network(_)))));
    assert_eq!(minter.calls.load(Ordering::SeqCst), 1);
    // A later call tries again.
    assert!(session.bearer().await.is_err());
    assert_eq!(minter.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_clock_ten_minutes_ahead_does_not_storm() -> Result<()> {
    let mut m = FakeMinter::new(Arc::new(ManualClock::new(T0)));
    m.ttl = 300;
    m.exp_offset = -600;
    let (session, minter, _store, clock) = setup(m);
    let a = session.bearer().await?;
    for _ in 0..100 {
        assert_eq!(session.bearer().await?.token, a.token);
    }
    assert_eq!(minter.calls.load(Ordering::SeqCst), 1);
    clock.advance(240);
    session.bearer().await?;
    assert_eq!(
        minter.calls.load(Ordering::SeqCst),
        2,
        "refreshed by the server's ttl"
    );
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn other_users_get_their_own_slot() -> Result<()> {
    let (session, minter, _store, _clock) = setup(FakeMinter::new(Arc::new(ManualClock::new(T0))));
    let a = session.bearer().await?;
    let b = session.bearer_for(Some("bob"), None).await?;
    assert_ne!(a.token, b.token);
    assert_eq!(session.bearer_for(Some("bob"), None).await?, b);
    assert_eq!(minter.calls.load(Ordering::SeqCst), 2);
    session.clear().await?;
    session.bearer().await?;
    assert_eq!(minter.calls.load(Ordering::SeqCst), 3);
    Ok(())
}
