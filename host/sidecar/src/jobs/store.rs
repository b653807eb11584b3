//! The job table (no HTTP): a job built from its request by the Scheduler's rules, the jobs by name with their trigger counts, and one timer heap of due times.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::Notify;

use super::body::{FailurePolicy, JobBody};
use super::schedule::Schedule;
use super::timefmt::{
    Nanos, SECOND, add_date, parse_go_duration, parse_iso_duration, parse_rfc3339,
};

/// Where a job's clock starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Begin {
    /// No `dueTime`: the schedule runs from this time (not a trigger itself).
    Start(Nanos),
    /// `dueTime`: the first trigger.
    Due(Nanos),
}

/// Whom a job's triggers go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// `POST /job/{name}` on the app (the Jobs API).
    App,
    /// An actor reminder: `PUT /actors/{type}/{id}/method/remind/{reminder}`.
    Reminder {
        actor_type: String,
        actor_id: String,
        reminder: String,
    },
    /// An actor timer: `PUT /actors/{type}/{id}/method/timer/{timer}`, with the strings it
    /// was created with (the app is sent them).
    Timer {
        actor_type: String,
        actor_id: String,
        timer: String,
        callback: String,
        due_time: String,
        period: String,
    },
}

/// A scheduled job as stored.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Job {
    /// The key in its table (the job name; `type||id||name` for reminders and timers).
    pub name: String,
    pub target: Target,
    /// The schedule as given, and parsed.
    pub schedule: Option<(String, Schedule)>,
    pub repeats: Option<u32>,
    /// `dueTime` and `ttl` as given (GET answers them as given).
    pub due_time: Option<String>,
    pub ttl: Option<String>,
    pub data: Option<Value>,
    /// The policy given, or the Scheduler's default.
    pub failure_policy: FailurePolicy,
    pub begin: Begin,
    /// From `ttl`: no trigger after this time.
    pub expiration: Option<Nanos>,
}

/// go-etcd-cron's `parsePointInTime`: RFC 3339, a Go duration from `now`, or an ISO 8601
/// duration (without repetitions) from `now`.
fn point_in_time(s: &str, now: Nanos) -> Result<Nanos, &'static str> {
    if let Some(t) = parse_rfc3339(s) {
        return Ok(t);
    }
    if let Ok(d) = parse_go_duration(s) {
        return Ok(now + Nanos::from(d));
    }
    let iso = parse_iso_duration(s).map_err(|_| "due time format not recognized")?;
    if iso.repeats > 0 {
        return Err("repeats not supported for due time");
    }
    add_date(now, iso.years, iso.months, iso.days, iso.nanos)
        .ok_or("due time format not recognized")
}

impl Job {
    /// Builds a job by go-etcd-cron's `Parse` rules; the error is the Scheduler's reason.
    /// `now` is truncated to the second, as the Scheduler does.
    pub fn build(name: String, body: JobBody, now: Nanos) -> Result<Job, String> {
        if body.due_time.is_none() && body.schedule.is_none() {
            return Err("job must have either a due time or a schedule".into());
        }
        if body.schedule.is_none() && body.repeats.is_some_and(|r| r > 1) {
            return Err("job must have a schedule to repeat".into());
        }
        if body.repeats == Some(0) {
            return Err("defined repeats must be greater than 0".into());
        }
        if body.schedule.is_none() && body.ttl.is_some() {
            return Err("job must have a schedule to have a ttl".into());
        }
        let schedule = match body.schedule {
            Some(s) => {
                let parsed = Schedule::parse(&s)?;
                Some((s, parsed))
            }
            None => None,
        };
        let now = now - now.rem_euclid(SECOND);
        let begin = match &body.due_time {
            Some(d) => Begin::Due(point_in_time(d, now)?),
            None => Begin::Start(now),
        };
        let expiration = match &body.ttl {
            Some(ttl) => {
                let start = match begin {
                    Begin::Due(t) => t,
                    Begin::Start(_) => now,
                };
                let exp = point_in_time(ttl, start).map_err(|_| "ttl format not recognized")?;
                if matches!(begin, Begin::Due(t) if t > exp) {
                    return Err("ttl must be greater than due time".into());
                }
                Some(exp)
            }
            None => None,
        };
        Ok(Job {
            name,
            target: Target::App,
            schedule,
            repeats: body.repeats,
            due_time: body.due_time,
            ttl: body.ttl,
            data: body.data,
            failure_policy: body
                .failure_policy
                .unwrap_or_else(FailurePolicy::default_policy),
            begin,
            expiration,
        })
    }

    /// The trigger after `count` triggers, the last at `last`; `None` when the job is done
    /// (repeats reached, past its ttl, or a schedule with no next time).
    pub fn next(&self, count: u32, last: Option<Nanos>) -> Option<Nanos> {
        if self.repeats.is_some_and(|total| count >= total) {
            return None;
        }
        let Some((_, schedule)) = &self.schedule else {
            return match (count, self.begin) {
                (0, Begin::Due(t)) => Some(t),
                _ => None,
            };
        };
        let next = match (last, self.begin) {
            (None, Begin::Due(t)) => return Some(t),
            (None, Begin::Start(t)) => schedule.next(t)?,
            (Some(last), _) => schedule.next(last)?,
        };
        match self.expiration {
            Some(exp) if next > exp => None,
            _ => Some(next),
        }
    }

    /// Whether a trigger that failed `attempts` times in a row is tried again, and after
    /// how long (nanoseconds).
    pub fn retry_after(&self, attempts: u32) -> Option<Nanos> {
        match self.failure_policy {
            FailurePolicy::Constant {
                interval,
                max_retries,
            } => {
                let again = max_retries.is_none_or(|n| attempts <= n);
                again.then(|| interval.unwrap_or(0).max(0))
            }
            FailurePolicy::Drop | FailurePolicy::Empty => None,
        }
    }
}

/// Why a job was not added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddError {
    /// A job of that name exists and `overwrite` was false.
    Exists,
    /// The table holds its maximum number of jobs.
    Full(usize),
}

/// One trigger handed to the scheduler: the job and the token to report back with.
#[derive(Debug, Clone)]
pub(crate) struct Trigger {
    pub job: Arc<Job>,
    pub token: u64,
}

/// What [`JobTable::take_due`] found.
#[derive(Debug)]
pub(crate) enum Due {
    /// A trigger to fire now (the job is marked in flight).
    Fire(Trigger),
    /// Nothing due; the earliest wake time, if any.
    Wait(Option<Nanos>),
}

#[derive(Debug)]
struct Entry {
    job: Arc<Job>,
    /// Identifies the current heap entry (or the trigger in flight); stale ones differ.
    token: u64,
    /// Triggers done (succeeded, or failed past the policy).
    count: u32,
    /// The scheduled time of the last trigger done.
    last: Option<Nanos>,
    /// The scheduled time of the pending trigger.
    due: Nanos,
    /// Failed attempts of the pending trigger.
    attempts: u32,
    in_flight: bool,
}

#[derive(Debug, Default)]
struct Inner {
    jobs: HashMap<String, Entry>,
    heap: BinaryHeap<Reverse<(Nanos, u64, String)>>,
    next_token: u64,
}

impl Inner {
    fn push(&mut self, name: &str, at: Nanos) -> u64 {
        self.next_token += 1;
        let token = self.next_token;
        self.heap.push(Reverse((at, token, name.to_string())));
        // Stale entries (of replaced or deleted jobs) are dropped as they come due; when
        // they pile up (many overwrites of far-off jobs), rebuild from the live ones.
        if self.heap.len() > 2 * self.jobs.len() + 1024 {
            let live: Vec<_> = self
                .heap
                .drain()
                .filter(|Reverse((_, t, n))| {
                    *t == token || self.jobs.get(n).is_some_and(|e| e.token == *t)
                })
                .collect();
            self.heap = live.into();
        }
        token
    }
}

/// The jobs of this sidecar, in memory, and the scheduler's wake-up signal.
#[derive(Debug)]
pub(crate) struct JobTable {
    inner: Mutex<Inner>,
    changed: Notify,
    max_jobs: usize,
}

impl JobTable {
    /// An empty table holding at most `max_jobs` jobs.
    pub fn new(max_jobs: usize) -> Self {
        JobTable {
            inner: Mutex::new(Inner::default()),
            changed: Notify::new(),
            max_jobs,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds (or with `overwrite` replaces) a job, and schedules its first trigger. A job
    /// with no trigger at all is accepted and gone at once, as in the Scheduler.
    pub fn add(&self, job: Job, overwrite: bool) -> Result<(), AddError> {
        let mut inner = self.lock();
        let exists = inner.jobs.contains_key(&job.name);
        if exists && !overwrite {
            return Err(AddError::Exists);
        }
        if !exists && inner.jobs.len() >= self.max_jobs {
            return Err(AddError::Full(self.max_jobs));
        }
        let name = job.name.clone();
        let Some(first) = job.next(0, None) else {
            inner.jobs.remove(&name);
            return Ok(());
        };
        let entry = Entry {
            job: Arc::new(job),
            token: 0,
            count: 0,
            last: None,
            due: first,
            attempts: 0,
            in_flight: false,
        };
        inner.jobs.insert(name.clone(), entry);
        let token = inner.push(&name, first);
        if let Some(e) = inner.jobs.get_mut(&name) {
            e.token = token;
        }
        drop(inner);
        self.changed.notify_one();
        Ok(())
    }

    /// The job called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Job>> {
        self.lock().jobs.get(name).map(|e| e.job.clone())
    }

    /// Deletes a job (a trigger in flight finishes, but is not retried or followed).
    pub fn remove(&self, name: &str) {
        self.lock().jobs.remove(name);
    }

    /// Deletes every job whose name starts with `prefix`.
    pub fn remove_prefixed(&self, prefix: &str) {
        self.lock().jobs.retain(|name, _| !name.starts_with(prefix));
    }

    /// Takes the earliest trigger due by `now`, or says when the next one is.
    pub fn take_due(&self, now: Nanos) -> Due {
        let mut inner = self.lock();
        loop {
            let Some(Reverse((at, token, name))) = inner.heap.peek().cloned() else {
                return Due::Wait(None);
            };
            let live = inner
                .jobs
                .get(&name)
                .is_some_and(|e| e.token == token && !e.in_flight);
            if !live {
                inner.heap.pop();
                continue;
            }
            if at > now {
                return Due::Wait(Some(at));
            }
            inner.heap.pop();
            let Some(entry) = inner.jobs.get_mut(&name) else {
                continue;
            };
            entry.in_flight = true;
            return Due::Fire(Trigger {
                job: entry.job.clone(),
                token,
            });
        }
    }

    /// Records the outcome of a trigger taken by [`JobTable::take_due`] and schedules what
    /// follows: a retry by the failure policy, the next trigger, or the job's deletion.
    /// A trigger of a job deleted or replaced meanwhile is ignored.
    pub fn complete(&self, trigger: &Trigger, success: bool, now: Nanos) {
        let mut inner = self.lock();
        let name = trigger.job.name.as_str();
        let Some(entry) = inner
            .jobs
            .get_mut(name)
            .filter(|e| e.token == trigger.token)
        else {
            return;
        };
        entry.in_flight = false;
        let wake = if success {
            None
        } else {
            entry.attempts += 1;
            entry
                .job
                .retry_after(entry.attempts)
                .map(|after| now + after)
        };
        let wake = match wake {
            Some(retry) => Some(retry),
            None => {
                entry.count = entry.count.saturating_add(1);
                entry.last = Some(entry.due);
                entry.attempts = 0;
                let next = entry.job.next(entry.count, entry.last);
                if let Some(next) = next {
                    entry.due = next;
                }
                next
            }
        };
        match wake {
            Some(at) => {
                let token = inner.push(name, at);
                if let Some(e) = inner.jobs.get_mut(name) {
                    e.token = token;
                }
            }
            None => {
                tracing::debug!(job = %name, "job finished; deleted");
                inner.jobs.remove(name);
            }
        }
        drop(inner);
        self.changed.notify_one();
    }

    /// Resolves when a job was added or a trigger completed (a change before the call
    /// counts once).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Nanos = 1_700_000_000 * SECOND + 250_000_000;
    const NOW_S: Nanos = 1_700_000_000 * SECOND;

    fn body(json: &str) -> JobBody {
        super::super::body::decode(json.as_bytes()).unwrap()
    }

    fn build(json: &str) -> Result<Job, String> {
        Job::build("j".into(), body(json), NOW)
    }

    #[test]
    fn parse_rules_of_the_scheduler() {
        for (json, want) in [
            (
                r#"{"repeats":1}"#,
                "job must have either a due time or a schedule",
            ),
            (
                r#"{"dueTime":"1s","repeats":2}"#,
                "job must have a schedule to repeat",
            ),
            (
                r#"{"schedule":"@daily","repeats":0}"#,
                "defined repeats must be greater than 0",
            ),
            (
                r#"{"dueTime":"1s","ttl":"5s"}"#,
                "job must have a schedule to have a ttl",
            ),
            (
                r#"{"schedule":"@daily","dueTime":"10s","ttl":"-20s"}"#,
                "ttl must be greater than due time",
            ),
            (
                r#"{"schedule":"@daily","ttl":"soon"}"#,
                "ttl format not recognized",
            ),
            (
                r#"{"dueTime":"tomorrow"}"#,
                "due time format not recognized",
            ),
            (
                r#"{"dueTime":"R2/PT1S"}"#,
                "repeats not supported for due time",
            ),
            (r#"{"schedule":"* * * * *"}"#, "expected exactly 6 fields"),
            (r#"{"schedule":""}"#, "empty spec string"),
        ] {
            let e = build(json).unwrap_err();
            assert!(e.contains(want), "{json}: {e}");
        }
        // A single repeat needs no schedule.
        assert!(build(r#"{"dueTime":"1s","repeats":1}"#).is_ok());
    }

    #[test]
    fn due_time_and_ttl_forms() {
        let j = build(r#"{"dueTime":"2s"}"#).unwrap();
        assert_eq!(j.begin, Begin::Due(NOW_S + 2 * SECOND));
        let j = build(r#"{"dueTime":"PT10S"}"#).unwrap();
        assert_eq!(j.begin, Begin::Due(NOW_S + 10 * SECOND));
        let j = build(r#"{"dueTime":"2024-01-01T00:00:00Z"}"#).unwrap();
        assert_eq!(j.begin, Begin::Due(1_704_067_200 * SECOND));
        // ttl counts from dueTime when there is one, else from now.
        let j = build(r#"{"schedule":"@every 1s","dueTime":"5s","ttl":"10s"}"#).unwrap();
        assert_eq!(j.expiration, Some(NOW_S + 15 * SECOND));
        let j = build(r#"{"schedule":"@every 1s","ttl":"PT1M"}"#).unwrap();
        assert_eq!(j.expiration, Some(NOW_S + 60 * SECOND));
        assert_eq!(j.failure_policy, FailurePolicy::default_policy());
    }

    #[test]
    fn next_triggers_follow_repeats_ttl_and_due_time() {
        // No dueTime: the clock starts now (truncated), not a trigger itself.
        let j = build(r#"{"schedule":"@every 1s","repeats":2}"#).unwrap();
        assert_eq!(j.next(0, None), Some(NOW_S + SECOND));
        assert_eq!(j.next(1, Some(NOW_S + SECOND)), Some(NOW_S + 2 * SECOND));
        assert_eq!(j.next(2, Some(NOW_S + 2 * SECOND)), None);
        // dueTime is the first trigger.
        let j = build(r#"{"schedule":"@every 1s","dueTime":"3s"}"#).unwrap();
        assert_eq!(j.next(0, None), Some(NOW_S + 3 * SECOND));
        assert_eq!(
            j.next(1, Some(NOW_S + 3 * SECOND)),
            Some(NOW_S + 4 * SECOND)
        );
        // One-shot.
        let j = build(r#"{"dueTime":"1s"}"#).unwrap();
        assert_eq!(j.next(0, None), Some(NOW_S + SECOND));
        assert_eq!(j.next(1, Some(NOW_S + SECOND)), None);
        // ttl ends the schedule.
        let j = build(r#"{"schedule":"@every 1s","ttl":"2s"}"#).unwrap();
        assert_eq!(j.next(1, Some(NOW_S + 2 * SECOND)), None);
        assert_eq!(j.next(0, None), Some(NOW_S + SECOND));
    }

    #[test]
    fn failure_policies_decide_retries() {
        let default = build(r#"{"dueTime":"1s"}"#).unwrap();
        assert_eq!(
            (1..=4).map(|a| default.retry_after(a)).collect::<Vec<_>>(),
            vec![Some(SECOND), Some(SECOND), Some(SECOND), None]
        );
        let drop = build(r#"{"dueTime":"1s","failurePolicy":{"drop":{}}}"#).unwrap();
        assert_eq!(drop.retry_after(1), None);
        let forever =
            build(r#"{"dueTime":"1s","failurePolicy":{"constant":{"interval":"0.5s"}}}"#).unwrap();
        assert_eq!(forever.retry_after(1000), Some(SECOND / 2));
        let empty = build(r#"{"dueTime":"1s","failurePolicy":{}}"#).unwrap();
        assert_eq!(empty.retry_after(1), None);
    }

    #[test]
    fn table_fires_retries_and_deletes() {
        let t = JobTable::new(2);
        t.add(build(r#"{"schedule":"@every 1s","repeats":2,"failurePolicy":{"constant":{"interval":"0.5s","maxRetries":1}}}"#).unwrap(), false).unwrap();
        assert!(matches!(t.take_due(NOW), Due::Wait(Some(at)) if at == NOW_S + SECOND));
        let Due::Fire(tr) = t.take_due(NOW_S + SECOND) else {
            panic!("due")
        };
        // In flight: not handed out twice.
        assert!(matches!(t.take_due(NOW_S + 10 * SECOND), Due::Wait(None)));
        t.complete(&tr, false, NOW_S + SECOND);
        let Due::Fire(tr) = t.take_due(NOW_S + SECOND + SECOND / 2) else {
            panic!("retry")
        };
        // The retry fails too: the policy is spent, the trigger counts, the next follows.
        t.complete(&tr, false, NOW_S + SECOND + SECOND / 2);
        assert!(
            matches!(t.take_due(NOW_S + SECOND + SECOND / 2), Due::Wait(Some(at)) if at == NOW_S + 2 * SECOND)
        );
        let Due::Fire(tr) = t.take_due(NOW_S + 2 * SECOND) else {
            panic!("second")
        };
        t.complete(&tr, true, NOW_S + 2 * SECOND);
        assert!(t.get("j").is_none(), "deleted after its last repeat");
    }

    #[test]
    fn table_refuses_duplicates_and_overflow() {
        let t = JobTable::new(1);
        let job = build(r#"{"dueTime":"1h"}"#).unwrap();
        t.add(job.clone(), false).unwrap();
        assert_eq!(t.add(job.clone(), false), Err(AddError::Exists));
        assert_eq!(t.add(job.clone(), true), Ok(()));
        let other = Job::build("k".into(), body(r#"{"dueTime":"1h"}"#), NOW).unwrap();
        assert_eq!(t.add(other, false), Err(AddError::Full(1)));
        t.remove("j");
        assert!(t.get("j").is_none());
        assert!(t.lock().jobs.is_empty());
        assert!(matches!(t.take_due(NOW + 7200 * SECOND), Due::Wait(None)));
    }

    #[test]
    fn replaced_job_ignores_the_old_trigger() {
        let t = JobTable::new(10);
        t.add(build(r#"{"dueTime":"1s"}"#).unwrap(), false).unwrap();
        let Due::Fire(old) = t.take_due(NOW + 2 * SECOND) else {
            panic!("due")
        };
        t.add(build(r#"{"dueTime":"1h"}"#).unwrap(), true).unwrap();
        t.complete(&old, true, NOW + 2 * SECOND);
        assert!(t.get("j").is_some(), "the new job stays");
    }

    #[test]
    fn heap_does_not_grow_with_overwrites() {
        let t = JobTable::new(10);
        for _ in 0..5000 {
            t.add(build(r#"{"dueTime":"1h"}"#).unwrap(), true).unwrap();
        }
        assert!(t.lock().heap.len() <= 1026, "{}", t.lock().heap.len());
    }
}
