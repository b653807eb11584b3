/**
 * jobs-as: a served app that schedules two jobs when it is invoked (`POST /schedule`)
 * and handles them when the sidecar's scheduler fires them (`POST /job/<name>`),
 * logging each to stderr (the host prints it as `guest: ...`).
 *
 * @packageDocumentation
 */

import {
  App,
  AppRequest,
  AppResponse,
  DaprClient,
  JobRequest,
  JobEvent,
  Job,
  logLine,
  memberString,
} from "../../as-sdk/assembly/index";

/** `POST /schedule`: schedules `reminder` (once, in 1 s) and `heartbeat` (every second, 3 times). */
function schedule(req: AppRequest): AppResponse {
  const dapr = new DaprClient();
  const reminder = new JobRequest().withDueTime("1s").withData('{"task":"water the plants"}').withOverwrite();
  let e = dapr.scheduleJob("reminder", reminder);
  if (e != null) return AppResponse.text(500, "scheduling reminder failed: " + e.toString() + "\n");
  const heartbeat = new JobRequest().withSchedule("@every 1s").withRepeats(3).withData('"beat"').withOverwrite();
  e = dapr.scheduleJob("heartbeat", heartbeat);
  if (e != null) return AppResponse.text(500, "scheduling heartbeat failed: " + e.toString() + "\n");
  const got = dapr.getJob("heartbeat");
  if (got.error != null) return AppResponse.text(500, "reading heartbeat back failed: " + got.error!.toString() + "\n");
  if (got.value == null) return AppResponse.text(500, "heartbeat is not scheduled\n");
  logLine("scheduled reminder and heartbeat");
  return AppResponse.text(
    200,
    "scheduled reminder (due in 1s) and heartbeat (@every 1s, 3 times)\n" + "heartbeat as stored: " + describe(got.value!) + "\n",
  );
}

function describe(j: Job): string {
  let s = "schedule=" + (j.schedule != null ? j.schedule! : "-") + " repeats=" + j.repeats.toString();
  s += " data=" + (j.data != null ? j.data! : "-");
  const p = j.failurePolicy;
  if (p != null) {
    s += " failurePolicy=" + p.kind;
    if (p.kind == "constant") s += " " + (p.interval != null ? p.interval! : "-") + " x" + p.maxRetries.toString();
  }
  return s;
}

function onReminder(job: JobEvent): bool {
  const data = job.dataObject();
  const task = data != null ? memberString(data, "task") : null;
  logLine("job " + job.name + ": " + (task != null ? task : job.data));
  return true;
}

function onHeartbeat(job: JobEvent): bool {
  const s = job.dataString();
  logLine("job " + job.name + ": " + (s != null ? s : job.data));
  return true;
}

new App()
  .onInvoke("POST", "/schedule", schedule)
  .onJob("reminder", onReminder)
  .onJob("heartbeat", onHeartbeat)
  .run();
