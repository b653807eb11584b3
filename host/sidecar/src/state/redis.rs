//! `state.redis`: Dapr's Redis layout (hash `<appId>||<key>` with `data` and `version`), atomic etag checks in Lua.

use std::time::{Duration, SystemTime};

use redis::aio::MultiplexedConnection;
use redis::{ConnectionAddr, ConnectionInfo, ErrorKind, RedisConnectionInfo, RedisError};

use super::store::{BoxFut, StateError, StateStore, StoredItem, WriteKind, WriteOp};
use crate::components::ComponentSpec;
use crate::error::SidecarError;

/// Checks every operation's etag, then applies them all; nothing is written if one check fails.
/// ARGV holds five values per key: kind (`set`/`del`), etag (`""` for none), first-write
/// (`1`/`0`), data, ttl seconds (`0` keep none, `-1` persist).
const APPLY_SCRIPT: &str = r#"
for i = 1, #KEYS do
  local base = (i - 1) * 5
  local etag = ARGV[base + 2]
  local t = redis.call("TYPE", KEYS[i])["ok"]
  local ver = false
  if t == "hash" then ver = redis.call("HGET", KEYS[i], "version") end
  if etag ~= "" then
    if (not ver) or ver ~= etag then
      return redis.error_reply("ETAG_MISMATCH key " .. KEYS[i])
    end
  elseif ARGV[base + 3] == "1" and t ~= "none" then
    return redis.error_reply("ETAG_MISMATCH first-write on existing key " .. KEYS[i])
  end
end
for i = 1, #KEYS do
  local base = (i - 1) * 5
  if ARGV[base + 1] == "del" then
    redis.call("DEL", KEYS[i])
  else
    if redis.call("TYPE", KEYS[i])["ok"] ~= "hash" then redis.call("DEL", KEYS[i]) end
    redis.call("HSET", KEYS[i], "data", ARGV[base + 4])
    redis.call("HINCRBY", KEYS[i], "version", 1)
    local ttl = tonumber(ARGV[base + 5])
    if ttl > 0 then
      redis.call("EXPIRE", KEYS[i], ttl)
    elseif ttl == -1 then
      redis.call("PERSIST", KEYS[i])
    end
  end
end
return #KEYS
"#;

/// A `state.redis` component.
pub(crate) struct RedisStore {
    conn: MultiplexedConnection,
    script: redis::Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").finish_non_exhaustive()
    }
}

/// The connection settings from Dapr's metadata names.
pub(crate) fn connection_info(spec: &ComponentSpec) -> Result<ConnectionInfo, SidecarError> {
    if spec.meta_bool("enableTLS", false)? {
        return Err(spec.init_error(
            "enableTLS: true is not supported by the wasi-dapr sidecar (plain TCP only); \
             use a local Redis without TLS or a real daprd",
        ));
    }
    if let Some(t) = spec
        .meta("redisType")
        .filter(|t| !t.is_empty() && *t != "node")
    {
        return Err(spec.init_error(format!("redisType {t:?} is not supported (only \"node\")")));
    }
    let host = spec
        .meta("redisHost")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| spec.init_error("metadata redisHost is required, in the form host:port"))?;
    let (name, port) = match host.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => {
            let port = p.parse::<u16>().map_err(|_| {
                spec.init_error(format!(
                    "redisHost {host:?}: expected host:port with a numeric port"
                ))
            })?;
            (
                h.trim_start_matches('[').trim_end_matches(']').to_string(),
                port,
            )
        }
        _ => (host.to_string(), 6379),
    };
    let db = match spec.meta("redisDB").filter(|d| !d.is_empty()) {
        None => 0,
        Some(d) => d
            .parse::<i64>()
            .map_err(|_| spec.init_error(format!("redisDB {d:?}: expected a database number")))?,
    };
    let non_empty = |k: &str| spec.meta(k).filter(|v| !v.is_empty()).map(str::to_string);
    let redis = RedisConnectionInfo {
        db,
        username: non_empty("redisUsername"),
        password: non_empty("redisPassword"),
        ..RedisConnectionInfo::default()
    };
    Ok(ConnectionInfo {
        addr: ConnectionAddr::Tcp(name, port),
        redis,
    })
}

impl RedisStore {
    /// Connects (bounded by `timeout`) and returns the store.
    pub async fn connect(info: ConnectionInfo, timeout: Duration) -> Result<Self, RedisError> {
        let client = redis::Client::open(info)?;
        let conn = tokio::time::timeout(timeout, client.get_multiplexed_async_connection())
            .await
            .map_err(|_| {
                RedisError::from((ErrorKind::IoError, "timed out connecting to redis"))
            })??;
        Ok(RedisStore {
            conn,
            script: redis::Script::new(APPLY_SCRIPT),
        })
    }
}

fn backend(e: RedisError) -> StateError {
    if e.to_string().contains("ETAG_MISMATCH") {
        StateError::EtagMismatch(e.detail().unwrap_or("etag does not match").to_string())
    } else {
        StateError::Backend(e.to_string())
    }
}

impl StateStore for RedisStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<Option<StoredItem>, StateError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let ((data, version), pttl): ((Option<Vec<u8>>, Option<String>), i64) = redis::pipe()
                .cmd("HMGET")
                .arg(key)
                .arg("data")
                .arg("version")
                .cmd("PTTL")
                .arg(key)
                .query_async(&mut conn)
                .await
                .map_err(backend)?;
            let expires = u64::try_from(pttl)
                .ok()
                .filter(|ms| *ms > 0)
                .and_then(|ms| SystemTime::now().checked_add(Duration::from_millis(ms)));
            Ok(data.map(|data| StoredItem {
                data,
                etag: version.unwrap_or_default(),
                expires,
            }))
        })
    }

    fn apply<'a>(&'a self, ops: Vec<WriteOp>) -> BoxFut<'a, Result<(), StateError>> {
        Box::pin(async move {
            if ops.is_empty() {
                return Ok(());
            }
            let mut inv = self.script.prepare_invoke();
            for op in &ops {
                if let Some(etag) = &op.etag {
                    etag.parse::<u64>().map_err(|e| {
                        StateError::InvalidEtag(format!(
                            "etag {etag:?} is not a redis version: {e}"
                        ))
                    })?;
                }
                inv.key(&op.key);
                let (kind, data, ttl): (&str, &[u8], i64) = match &op.kind {
                    WriteKind::Delete => ("del", &[], 0),
                    WriteKind::Upsert { data, ttl_seconds } => {
                        ("set", data, ttl_seconds.unwrap_or(0))
                    }
                };
                inv.arg(kind)
                    .arg(op.etag.as_deref().unwrap_or(""))
                    .arg(if op.first_write { "1" } else { "0" })
                    .arg(data)
                    .arg(ttl);
            }
            let mut conn = self.conn.clone();
            let _: i64 = inv.invoke_async(&mut conn).await.map_err(backend)?;
            Ok(())
        })
    }

    fn scan<'a>(
        &'a self,
        prefix: &'a str,
    ) -> BoxFut<'a, Result<Vec<(String, StoredItem)>, StateError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let mut keys = Vec::new();
            let mut cursor: u64 = 0;
            loop {
                let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("COUNT")
                    .arg(500)
                    .query_async(&mut conn)
                    .await
                    .map_err(backend)?;
                keys.extend(batch.into_iter().filter(|k| k.starts_with(prefix)));
                if next == 0 {
                    break;
                }
                cursor = next;
            }
            keys.sort();
            keys.dedup();
            let mut out = Vec::new();
            for key in keys {
                if let Ok(Some(item)) = self.get(&key).await {
                    out.push((key, item));
                }
            }
            Ok(out)
        })
    }

    fn supports_query(&self) -> bool {
        false
    }
}
