// koyalite-cron: calls URLs on a schedule. Two modes:
//
//   koyalite-cron --method POST --url URL [--timeout 300s] [--header 'Name: value']…
//       one call (Kubernetes CronJobs run this): exit 0 on a 2xx answer, 1 on any other answer, 2 on a timeout or
//       network error, 64 on bad usage.
//
//   koyalite-cron --schedule FILE [--check [--now ISO-8601]]
//       the scheduler (the Docker target runs one container of it). FILE is JSON:
//       {"jobs": [{"name", "schedule", "timezone", "url", "deadline_s", "suspend"}]}
//       `schedule` is a 5-field cron expression (minute hour day-of-month month day-of-week; lists, ranges, steps,
//       JAN–DEC, SUN–SAT, 7 = Sunday) or @yearly @annually @monthly @weekly @daily @midnight @hourly, evaluated in
//       the job's IANA `timezone`. When day-of-month and day-of-week are both restricted, either matching is enough
//       (as in cron(8)). A job whose previous call is still running is skipped for that minute (like Kubernetes'
//       concurrencyPolicy: Forbid); each call is aborted after `deadline_s`. GET /health on $PORT (default 8090)
//       answers with the jobs' state. --check validates FILE, prints each job's next run, and exits.

type Job = { name: string; schedule: string; timezone: string; url: string; deadline_s: number; suspend: boolean };

const MACROS: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};
const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

export type Schedule = {
  minute: Set<number>;
  hour: Set<number>;
  dom: Set<number>;
  month: Set<number>;
  dow: Set<number>;
  domStar: boolean;
  dowStar: boolean;
};

function parseField(text: string, min: number, max: number, names: string[] | null, nameBase: number,
  what: string): Set<number> {
  const out = new Set<number>();
  const value = (s: string): number => {
    const upper = s.toUpperCase();
    if (names) {
      const i = names.indexOf(upper);
      if (i >= 0) return i + nameBase;
    }
    if (!/^\d+$/.test(s)) throw new Error(`${what}: ${JSON.stringify(s)} is not a number${names ? " or name" : ""}`);
    return Number(s);
  };
  for (const item of text.split(",")) {
    const [range, stepText] = item.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`${what}: bad step in ${JSON.stringify(item)}`);
    let lo: number, hi: number;
    if (range === "*") [lo, hi] = [min, max];
    else if (range.includes("-")) {
      const [a, b] = range.split("-");
      [lo, hi] = [value(a), value(b)];
    } else {
      lo = value(range);
      hi = stepText === undefined ? lo : max;
    }
    const top = what === "day-of-week" ? 7 : max;
    if (lo < min || hi > top || lo > hi) {
      throw new Error(`${what}: ${JSON.stringify(item)} is outside ${min}-${top}`);
    }
    for (let v = lo; v <= hi; v += step) out.add(what === "day-of-week" && v === 7 ? 0 : v);
  }
  return out;
}

export function parseSchedule(expression: string): Schedule {
  const text = MACROS[expression.trim().toLowerCase()] ?? expression.trim();
  if (text.startsWith("@")) throw new Error(`unsupported macro ${JSON.stringify(expression)}`);
  const fields = text.split(/\s+/);
  if (fields.length !== 5) {
    throw new Error(`${JSON.stringify(expression)}: expected 5 fields (minute hour day-of-month month day-of-week)`);
  }
  return {
    minute: parseField(fields[0], 0, 59, null, 0, "minute"),
    hour: parseField(fields[1], 0, 23, null, 0, "hour"),
    dom: parseField(fields[2], 1, 31, null, 0, "day-of-month"),
    month: parseField(fields[3], 1, 12, MONTHS, 1, "month"),
    dow: parseField(fields[4], 0, 6, DAYS, 0, "day-of-week"),
    domStar: fields[2].startsWith("*"),
    dowStar: fields[4].startsWith("*"),
  };
}

type Local = { month: number; day: number; hour: number; minute: number; weekday: number };
const formatters = new Map<string, Intl.DateTimeFormat>();

export function localTime(date: Date, timeZone: string): Local {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone, hourCycle: "h23", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric",
      weekday: "short",
    });
    formatters.set(timeZone, f);
  }
  const parts = Object.fromEntries(f.formatToParts(date).map((p) => [p.type, p.value]));
  return {
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour) % 24,
    minute: Number(parts.minute),
    weekday: DAYS.indexOf(String(parts.weekday).toUpperCase().slice(0, 3)),
  };
}

function dayMatches(s: Schedule, t: Local): boolean {
  if (!s.month.has(t.month)) return false;
  const dom = s.dom.has(t.day);
  const dow = s.dow.has(t.weekday);
  if (!s.domStar && !s.dowStar) return dom || dow;
  return dom && dow;
}

export function matches(s: Schedule, date: Date, timeZone: string): boolean {
  const t = localTime(date, timeZone);
  return dayMatches(s, t) && s.hour.has(t.hour) && s.minute.has(t.minute);
}

/** The first whole minute strictly after `after` that matches, within a year (null if none). */
export function nextRun(s: Schedule, after: Date, timeZone: string): Date | null {
  let t = Math.floor(after.getTime() / 60_000) * 60_000 + 60_000;
  const end = t + 367 * 24 * 3600_000;
  while (t < end) {
    const local = localTime(new Date(t), timeZone);
    if (!dayMatches(s, local)) {
      t += ((23 - local.hour) * 60 + (60 - local.minute)) * 60_000; // to the next local midnight (or close to it)
      continue;
    }
    if (!s.hour.has(local.hour)) {
      t += (60 - local.minute) * 60_000;
      continue;
    }
    if (s.minute.has(local.minute)) return new Date(t);
    t += 60_000;
  }
  return null;
}

function durationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`bad duration ${JSON.stringify(text)} (examples: 300s, 5m, 300)`);
  const unit = m[2] ?? "s";
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3600_000 }[unit]!;
}

function log(message: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ time: new Date().toISOString(), component: "koyalite-cron", message, ...fields }));
}

async function call(method: string, url: string, timeoutMs: number, headers: Record<string, string>):
  Promise<{ ok: boolean; status: number | null; error?: string; ms: number }> {
  const start = performance.now();
  try {
    const response = await fetch(url, { method, headers, signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return { ok: response.ok, status: response.status, ms: Math.round(performance.now() - start) };
  } catch (e) {
    const err = e as Error;
    const error = err.name === "TimeoutError" ? `timed out after ${timeoutMs} ms` : err.message;
    return { ok: false, status: null, error, ms: Math.round(performance.now() - start) };
  }
}

function values(name: string): string[] {
  const out: string[] = [];
  Deno.args.forEach((a, i) => {
    if (a === name && i + 1 < Deno.args.length) out.push(Deno.args[i + 1]);
    else if (a.startsWith(`${name}=`)) out.push(a.slice(name.length + 1));
  });
  return out;
}

function usage(message: string): never {
  console.error(`koyalite-cron: ${message}\nusage: koyalite-cron --method POST --url URL [--timeout 300s]\n` +
    "       koyalite-cron --schedule FILE [--check]");
  Deno.exit(64);
}

async function oneShot(): Promise<never> {
  const url = values("--url")[0];
  if (!url) usage("--url is required");
  const method = (values("--method")[0] ?? "POST").toUpperCase();
  let timeout: number;
  try {
    timeout = durationMs(values("--timeout")[0] ?? "300s");
  } catch (e) {
    usage((e as Error).message);
  }
  const headers: Record<string, string> = { "user-agent": "koyalite-cron" };
  for (const h of values("--header")) {
    const i = h.indexOf(":");
    if (i <= 0) usage(`--header ${JSON.stringify(h)}: expected 'Name: value'`);
    headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
  }
  const result = await call(method, url, timeout, headers);
  log(result.ok ? "call succeeded" : "call failed", { method, url, ...result });
  Deno.exit(result.ok ? 0 : result.status === null ? 2 : 1);
}

type State = { job: Job; schedule: Schedule; running: boolean; last: Record<string, unknown> | null; runs: number };

function loadJobs(file: string): State[] {
  let doc: { jobs?: Partial<Job>[] };
  try {
    doc = JSON.parse(Deno.readTextFileSync(file));
  } catch (e) {
    console.error(`koyalite-cron: ${file}: ${(e as Error).message}`);
    Deno.exit(66);
  }
  const problems: string[] = [];
  const states: State[] = [];
  for (const [i, raw] of (doc.jobs ?? []).entries()) {
    const where = `${file}: jobs[${i}]${raw.name ? ` (${raw.name})` : ""}`;
    try {
      if (!raw.name || !raw.url || !raw.schedule) throw new Error("name, schedule and url are required");
      const timezone = raw.timezone ?? "UTC";
      new Intl.DateTimeFormat("en-US", { timeZone: timezone }); // throws RangeError on an unknown zone
      states.push({
        job: { name: raw.name, schedule: raw.schedule, timezone, url: raw.url, deadline_s: raw.deadline_s ?? 300,
          suspend: Boolean(raw.suspend) },
        schedule: parseSchedule(raw.schedule),
        running: false,
        last: null,
        runs: 0,
      });
    } catch (e) {
      problems.push(`${where}: ${(e as Error).message}`);
    }
  }
  if (problems.length) {
    console.error(problems.map((p) => `koyalite-cron: ${p}`).join("\n"));
    Deno.exit(65);
  }
  return states;
}

async function runJob(state: State, at: Date): Promise<void> {
  if (state.running) {
    log("skipped: the previous call is still running", { job: state.job.name, at: at.toISOString() });
    return;
  }
  state.running = true;
  state.runs++;
  try {
    const result = await call("POST", state.job.url, state.job.deadline_s * 1000,
      { "user-agent": "koyalite-cron", "x-koyalite-cron-job": state.job.name });
    state.last = { scheduled: at.toISOString(), ...result };
    log(result.ok ? "job succeeded" : "job failed", { job: state.job.name, url: state.job.url, ...result });
  } finally {
    state.running = false;
  }
}

function scheduler(file: string): void {
  const states = loadJobs(file);
  const fixedNow = values("--now")[0]; // --check --now ISO-8601: next runs from that instant (tests)
  if (fixedNow && Number.isNaN(Date.parse(fixedNow))) usage(`--now ${JSON.stringify(fixedNow)}: not an ISO-8601 time`);
  const describe = (s: State) => ({
    name: s.job.name, schedule: s.job.schedule, timezone: s.job.timezone, url: s.job.url, suspend: s.job.suspend,
    next_run: s.job.suspend ? null : nextRun(s.schedule, fixedNow ? new Date(fixedNow) : new Date(), s.job.timezone)
      ?.toISOString() ?? null,
    running: s.running, runs: s.runs, last: s.last,
  });
  if (Deno.args.includes("--check")) {
    console.log(JSON.stringify({ jobs: states.map(describe) }, null, 2));
    Deno.exit(0);
  }
  for (const signal of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(signal, () => Deno.exit(0));
  const port = Number(Deno.env.get("PORT") ?? "8090");
  Deno.serve({ hostname: "0.0.0.0", port, onListen: () => {} }, (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/health" || path === "/") return Response.json({ status: "ok", jobs: states.map(describe) });
    return Response.json({ error: "not found" }, { status: 404 });
  });
  log("scheduler started", { port, jobs: states.map(describe) });

  let lastMinute = Math.floor(Date.now() / 60_000); // the current minute is not run: start with the next one
  const tick = () => {
    const now = Math.floor(Date.now() / 60_000);
    // catch up on at most 5 missed minutes (a paused container does not flood its targets)
    for (let m = Math.max(lastMinute + 1, now - 4); m <= now; m++) {
      const at = new Date(m * 60_000);
      for (const s of states) {
        if (!s.job.suspend && matches(s.schedule, at, s.job.timezone)) runJob(s, at);
      }
    }
    lastMinute = Math.max(lastMinute, now);
    setTimeout(tick, 60_000 - (Date.now() % 60_000) + 50);
  };
  setTimeout(tick, 60_000 - (Date.now() % 60_000) + 50);
}

if (import.meta.main) {
  if (Deno.args.includes("--help") || Deno.args.includes("-h") || Deno.args.length === 0) {
    console.log("usage: koyalite-cron --method POST --url URL [--timeout 300s] [--header 'Name: value']\n" +
      "       koyalite-cron --schedule FILE [--check]");
    Deno.exit(Deno.args.length === 0 ? 64 : 0);
  }
  const schedule = values("--schedule")[0];
  if (schedule) scheduler(schedule);
  else await oneShot();
}
