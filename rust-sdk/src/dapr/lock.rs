//! Distributed lock (alpha API): try to acquire a lock, release it.

use serde::{Deserialize, Serialize};

use super::encode;
use super::{Client, Error, to_json};
use crate::http::Request;

/// The outcome of [`Client::unlock`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlockStatus {
    /// 0: the lock was released.
    Success,
    /// 1: there was no such lock.
    LockDoesNotExist,
    /// 2: the lock is held by another owner.
    LockBelongsToOthers,
    /// 3: the store failed.
    InternalError,
    /// A status this SDK does not know.
    Unknown(i64),
}

impl UnlockStatus {
    fn from_code(code: i64) -> Self {
        match code {
            0 => UnlockStatus::Success,
            1 => UnlockStatus::LockDoesNotExist,
            2 => UnlockStatus::LockBelongsToOthers,
            3 => UnlockStatus::InternalError,
            other => UnlockStatus::Unknown(other),
        }
    }

    fn from_name(name: &str) -> Self {
        match name {
            "SUCCESS" => UnlockStatus::Success,
            "LOCK_DOES_NOT_EXIST" => UnlockStatus::LockDoesNotExist,
            "LOCK_BELONGS_TO_OTHERS" => UnlockStatus::LockBelongsToOthers,
            "INTERNAL_ERROR" => UnlockStatus::InternalError,
            _ => UnlockStatus::Unknown(-1),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireLock<'a> {
    resource_id: &'a str,
    lock_owner: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiry_in_seconds: Option<u32>,
}

#[derive(Deserialize)]
struct LockReply {
    #[serde(default)]
    success: bool,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StatusValue {
    Code(i64),
    Name(String),
}

#[derive(Deserialize)]
struct UnlockReply {
    #[serde(default)]
    status: Option<StatusValue>,
}

impl Client {
    fn lock_url(&self, action: &str, store: &str) -> Result<String, Error> {
        Ok(self.url(&format!(
            "/v1.0-alpha1/{action}/{}",
            encode::segment("lock store name", store)?
        )))
    }

    /// Tries to acquire the lock on `resource_id` for `lock_owner`, expiring after
    /// `expiry_in_seconds`; `Ok(false)` if someone else holds it.
    ///
    /// `POST /v1.0-alpha1/lock/{store}` with `{"resourceId","lockOwner","expiryInSeconds"}`.
    pub fn try_lock(
        &self,
        store: &str,
        resource_id: &str,
        lock_owner: &str,
        expiry_in_seconds: u32,
    ) -> Result<bool, Error> {
        let body = WireLock {
            resource_id,
            lock_owner,
            expiry_in_seconds: Some(expiry_in_seconds),
        };
        let request = Request::post(self.lock_url("lock", store)?)
            .header("content-type", "application/json")
            .body(to_json("lock request", &body)?);
        let reply = self.call(request)?;
        Ok(reply.json::<LockReply>("lock")?.success)
    }

    /// Releases the lock on `resource_id` held by `lock_owner`.
    ///
    /// `POST /v1.0-alpha1/unlock/{store}` with `{"resourceId","lockOwner"}` → `{"status":N}`.
    pub fn unlock(
        &self,
        store: &str,
        resource_id: &str,
        lock_owner: &str,
    ) -> Result<UnlockStatus, Error> {
        let body = WireLock {
            resource_id,
            lock_owner,
            expiry_in_seconds: None,
        };
        let request = Request::post(self.lock_url("unlock", store)?)
            .header("content-type", "application/json")
            .body(to_json("unlock request", &body)?);
        let reply = self.call(request)?;
        if reply.is_empty() {
            return Ok(UnlockStatus::Success);
        }
        Ok(match reply.json::<UnlockReply>("unlock")?.status {
            None => UnlockStatus::Success,
            Some(StatusValue::Code(code)) => UnlockStatus::from_code(code),
            Some(StatusValue::Name(name)) => UnlockStatus::from_name(&name),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::dapr::testing::{Recorder, body_json};

    #[test]
    fn try_lock_request_and_answers() {
        let rec = Recorder::default();
        rec.reply(200, &[], r#"{"success":true}"#);
        rec.reply(200, &[], r#"{"success":false}"#);
        rec.reply(200, &[], r#"{}"#);
        let c = rec.client();
        assert!(c.try_lock("lockstore", "res", "me", 30).unwrap());
        assert!(!c.try_lock("lockstore", "res", "me", 30).unwrap());
        assert!(!c.try_lock("lockstore", "res", "me", 30).unwrap());
        let req = &rec.requests()[0];
        assert_eq!(req.method, "POST");
        assert_eq!(req.url, "http://dapr:3500/v1.0-alpha1/lock/lockstore");
        assert_eq!(
            body_json(req),
            json!({"resourceId": "res", "lockOwner": "me", "expiryInSeconds": 30})
        );
    }

    #[test]
    fn unlock_statuses() {
        let rec = Recorder::default();
        for body in [
            r#"{"status":0}"#,
            r#"{"status":1}"#,
            r#"{"status":2}"#,
            r#"{"status":3}"#,
            r#"{"status":9}"#,
            r#"{}"#,
            r#"{"status":"LOCK_BELONGS_TO_OTHERS"}"#,
        ] {
            rec.reply(200, &[], body);
        }
        let c = rec.client();
        let got: Vec<_> = (0..7)
            .map(|_| c.unlock("ls", "res", "me").unwrap())
            .collect();
        assert_eq!(
            got,
            [
                UnlockStatus::Success,
                UnlockStatus::LockDoesNotExist,
                UnlockStatus::LockBelongsToOthers,
                UnlockStatus::InternalError,
                UnlockStatus::Unknown(9),
                UnlockStatus::Success,
                UnlockStatus::LockBelongsToOthers,
            ]
        );
        let req = &rec.requests()[0];
        assert_eq!(req.url, "http://dapr:3500/v1.0-alpha1/unlock/ls");
        assert_eq!(
            body_json(req),
            json!({"resourceId": "res", "lockOwner": "me"})
        );
    }

    #[test]
    fn lock_errors() {
        let rec = Recorder::default();
        rec.reply(
            400,
            &[],
            r#"{"errorCode":"ERR_LOCK_STORE_NOT_FOUND","message":"x"}"#,
        );
        let err = rec.client().try_lock("nope", "r", "o", 1).unwrap_err();
        assert_eq!(err.error_code(), Some("ERR_LOCK_STORE_NOT_FOUND"));
        rec.reply(200, &[], r#"{"success":"maybe"}"#);
        assert!(matches!(
            rec.client().try_lock("s", "r", "o", 1),
            Err(Error::Decode { .. })
        ));
    }
}
