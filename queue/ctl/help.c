/* sluicectl's help texts: one per command, printed by --help on stdout. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

/* Where the text of class set has its flags, made from the class fields. */
#define FIELDS_MARK "@fields@\n" /* the class fields as class set options */
#define NAMES_MARK "@names@\n"   /* the class fields as config keys */

static const struct {
    const char *cmd;
    const char *text;
} HELP[] = {
    {"", "usage: sluicectl [--redis URL] [--namespace NS] [--json] COMMAND [ARGS]\n"
         "\n"
         "The operator CLI of sluice, the pressure-aware job queue.\n"
         "\n"
         "Commands:\n"
         "  status                          classes, signals and the governor at a glance\n"
         "  top [--iterations N] [--wide]   live status, refreshed every second (q quits)\n"
         "  console [--listen HOST:PORT]    a live web page of it all, with the actions\n"
         "  class list|get|set|delete|keys  declare and inspect classes, limits and keys\n"
         "  pause CLASS [--for DURATION]    stop claims of a class\n"
         "  resume CLASS                    undo pause\n"
         "  pin CLASS FRACTION [--for DURATION]  pin the admitted fraction\n"
         "  unpin CLASS                     undo pin\n"
         "  signal define|set|list|delete   pressure signals\n"
         "  governor status|mode|history    the governor's leader, mode and decisions\n"
         "  enqueue CLASS [JSON|-] [...]    enqueue a job, print its id\n"
         "  job show|cancel ID              inspect or cancel a job\n"
         "  explain ID|CLASS                why a job waits and when it may run\n"
         "  dead list|retry|purge CLASS     the dead set\n"
         "  apply FILE [--dry-run]          apply a JSON config of classes and signals\n"
         "  export                          print the live config as JSON\n"
         "  audit [--class C] [--count N]   who changed what, when\n"
         "  check [CLASS...]                the namespace's invariants (read-only)\n"
         "  simulate [SCENARIO.json] [...]  replay a day of traffic through every admission\n"
         "                                  policy and the governor (no Redis needed)\n"
         "\n"
         "Global options (anywhere on the line):\n"
         "  --redis URL        redis://[user:pass@]host[:port][/db], unix:///path or\n"
         "                     redis-sentinel://[user:pass@]host[:port][,...]/MASTER[?db=N]\n"
         "                     (default $SLUICE_REDIS_URL, else redis://127.0.0.1:6379)\n"
         "  --namespace NS     key prefix (default $SLUICE_NAMESPACE, else sluice)\n"
         "  --json             machine-readable output for read commands\n"
         "  --help             help for the program or a command\n"
         "\n"
         "Durations: 500ms, 30s, 15m, 2h, 1d. Rates: 50/s, 3000/m, 100/h.\n"
         "Exit codes: 0 ok, 1 runtime failure (Redis unreachable, auth, server\n"
         "error, queue full, job busy), 2 usage or validation error, 3 not found.\n"},
    {"status", "usage: sluicectl status [--json]\n"
               "\n"
               "Per class: tier, ready, delayed, leased (in flight), dead, admitted\n"
               "fraction, effective rate and concurrency, and why (critical, pinned,\n"
               "paused, governor, governor silent, ungoverned) with the governor's reason.\n"
               "Per signal: value, target, critical, age, stale, pressure.\n"
               "Governor: leader, epoch, mode, ticks and the last decision.\n"},
    {"top", "usage: sluicectl top [--iterations N] [--wide]\n"
            "\n"
            "Shows status, refreshed every second, until q or Ctrl-C (the terminal\n"
            "is restored). Lines wider than the terminal are cut with an ellipsis;\n"
            "--wide prints them whole. The governor's last decision is said in words.\n"
            "When stdout is not a terminal, prints one snapshot per second;\n"
            "--iterations N stops after N snapshots.\n"},
    {"console", "usage: sluicectl console [--listen HOST:PORT] [--token-file FILE] [--user NAME]\n"
                "\n"
                "Serves a web page of the governor (leader, mode, last decision), each\n"
                "signal's pressure over the last hour, every class (tier, admitted fraction\n"
                "over time, rate, concurrency, depths, throttled claims, its gate in words,\n"
                "the job at the head of its line with explain's answer), the audit log and\n"
                "dead jobs, refreshed every 0.75 s, and a JSON API: GET /api/state,\n"
                "GET /api/explain?id=JOB, POST /api/pause|resume|pin|unpin|mode|retry|purge.\n"
                "\n"
                "  --listen HOST:PORT   IPv4 address and port (default 127.0.0.1:8080; port 0\n"
                "                       takes a free one); it prints \"console: http://...\"\n"
                "  --token-file FILE    allows actions to requests that send the file's first\n"
                "                       line as \"Authorization: Bearer TOKEN\" (16..255 bytes);\n"
                "                       without it the console is read-only\n"
                "  --user NAME          actions are audited as console:NAME (default $USER)\n"
                "\n"
                "Actions take a JSON body, e.g. {\"class\":\"bulk\",\"fraction\":0.5,\"for\":\"15m\"},\n"
                "and are refused across sites (Origin, Sec-Fetch-Site). Runs until Ctrl-C.\n"},
    {"class", "usage: sluicectl class list|get|set|delete|keys ...\n"
              "\n"
              "  class list [--json]             declared classes with tier and limits\n"
              "  class get CLASS [--json]        one class's configuration\n"
              "  class set CLASS [FLAGS]         declare a class or change the given fields\n"
              "  class delete CLASS [--force]    delete a class (--force: with its jobs)\n"
              "  class keys CLASS [--count N]    fairness keys by jobs waiting and running\n"
              "\n"
              "See 'sluicectl class set --help' for the fields.\n"},
    {"class keys", "usage: sluicectl class keys CLASS [--count N] [--json]\n"
                   "\n"
                   "The class's fairness keys with jobs waiting (ready or delayed) or running\n"
                   "(leased), the most waiting first, then the most running: the top 10, or N\n"
                   "(1..100). Keyless jobs are not a key here. Reads every key that waits and\n"
                   "every leased job of the class. Exit 3 if the class is unknown.\n"},
    {"class list", "usage: sluicectl class list [--json]\n"
                   "\n"
                   "Lists the declared classes, sorted, with tier and limits.\n"},
    {"class get", "usage: sluicectl class get CLASS [--json]\n"
                  "\n"
                  "Prints every field of a class's configuration. Exit 3 if unknown.\n"},
    {"class set", "usage: sluicectl class set CLASS [FLAGS]\n"
                  "\n"
                  "Declares CLASS (defaults for fields not given) or changes only the given\n"
                  "fields. At least one flag. A non-critical class, or one with windows,\n"
                  "needs --max-rate or --max-concurrency.\n"
                  "\n" FIELDS_MARK "  --window WINDOW             a run window, \"DAYS HH:MM-HH:MM ZONE\", e.g.\n"
                  "                              \"mon-fri 20:00-07:00 America/New_York\": an end\n"
                  "                              not after the start is the next day; ZONE from\n"
                  "                              tzdata. Repeat for up to 8; they replace the\n"
                  "                              class's windows. Outside them it runs at its floor\n"
                  "  --no-windows                remove every window\n"
                  "  --outside-window WHAT       floor (default) or none: what it admits\n"
                  "                              outside its windows\n"
                  "  --key-weight KEY=WEIGHT     a fairness key's weight, a whole number 1..100\n"
                  "                              (keys not named weigh 1). Repeat for up to 64;\n"
                  "                              they replace the class's key weights\n"
                  "  --no-key-weights            every key weighs 1\n"
                  "  --on-expiry WHAT            run (default) or dead: what becomes of a job\n"
                  "                              not started by its start_by (dead: dead-\n"
                  "                              lettered, reason expired)\n"
                  "\n"
                  "Example: sluicectl class set certificates --tier low --max-rate 50/s \\\n"
                  "           --max-concurrency 8 --floor 0.1\n"},
    {"class delete", "usage: sluicectl class delete CLASS [--force]\n"
                     "\n"
                     "Deletes a class. A class holding jobs is refused (exit 1) unless\n"
                     "--force, which deletes its jobs too. The audit stream stays.\n"},
    {"pause", "usage: sluicectl pause CLASS [--for DURATION]\n"
              "\n"
              "Pauses claims of CLASS until resumed, or for DURATION. Jobs wait in place.\n"},
    {"resume", "usage: sluicectl resume CLASS\n\nUndoes pause.\n"},
    {"pin", "usage: sluicectl pin CLASS FRACTION [--for DURATION]\n"
            "\n"
            "Pins the admitted fraction of CLASS to FRACTION (0..1) over the\n"
            "governor's, until unpinned or for DURATION.\n"},
    {"unpin", "usage: sluicectl unpin CLASS\n\nRemoves the pin: the governor decides again.\n"},
    {"signal", "usage: sluicectl signal define|set|list|delete ...\n"
               "\n"
               "  signal define NAME --target X --critical Y [--lower-is-worse]\n"
               "                [--stale-after DURATION] [--on-stale assume-pressure|hold|ignore]\n"
               "                [--period DURATION]\n"
               "  signal set NAME VALUE [--age DURATION]\n"
               "  signal list [--json]\n"
               "  signal delete NAME\n"},
    {"signal define", "usage: sluicectl signal define NAME --target X --critical Y [--lower-is-worse]\n"
                      "                [--stale-after DURATION] [--on-stale assume-pressure|hold|ignore]\n"
                      "                [--period DURATION]\n"
                      "\n"
                      "Defines or redefines a pressure signal. critical must lie on the worse\n"
                      "side of target (above it; below it with --lower-is-worse).\n"
                      "--period: how long a change in the database takes to show in a value,\n"
                      "the source's interval plus its publishing delay (a 60 s mean published a\n"
                      "minute late: 2m). After a change the governor waits for a value observed\n"
                      "after it, or this long; without --period a value stands (a source that\n"
                      "pushes on change) and only the dwell applies.\n"
                      "Defaults: --stale-after 30s, --on-stale assume-pressure, no period.\n"},
    {"signal set", "usage: sluicectl signal set NAME VALUE [--age DURATION]\n"
                   "\n"
                   "Reports a value observed now, or DURATION ago (at most 1d).\n"},
    {"signal list", "usage: sluicectl signal list [--json]\n"
                    "\n"
                    "Every signal: value, target, critical, direction, period, age, stale,\n"
                    "pressure, and where the governor raises and cuts, in the signal's units\n"
                    "(RAISE <1.8 CUT >2: raised while below 1.8, cut while above 2), as the\n"
                    "last governor decision computed it (the default params before one).\n"},
    {"signal delete", "usage: sluicectl signal delete NAME\n\nDeletes a signal and its value.\n"},
    {"governor", "usage: sluicectl governor status|mode|history ...\n"
                 "\n"
                 "  governor status [--json]\n"
                 "  governor mode enforce|shadow|off\n"
                 "  governor history [--count N] [--json]\n"},
    {"governor status", "usage: sluicectl governor status [--json]\n"
                        "\n"
                        "Leader, epoch, lease, mode, ticks and the last decision.\n"},
    {"governor mode", "usage: sluicectl governor mode enforce|shadow|off\n"
                      "\n"
                      "enforce: decisions are applied; shadow: recorded only; off: no decisions.\n"},
    {"governor history", "usage: sluicectl governor history [--count N] [--json]\n"
                         "\n"
                         "The newest N (default 10, 1..1000) decisions, newest first, one JSON\n"
                         "text a line; with --json a JSON array of them.\n"},
    {"enqueue", "usage: sluicectl enqueue CLASS [JSON|-] [--delay DURATION] [--run-at TIME]\n"
                "         [--priority N] [--unique KEY] [--max-attempts N] [--timeout DURATION]\n"
                "         [--cost N] [--key KEY] [--start-by TIME | --start-within DURATION]\n"
                "         [--wait-replicas N [--wait-timeout DURATION]]\n"
                "\n"
                "Enqueues one job and prints its id and nothing else. Without JSON, or\n"
                "with '-', the payload (a JSON object, at most 256 KiB) is read from stdin.\n"
                "Priorities are -1000..1000 (higher first). A duplicate --unique key\n"
                "prints the live job's id. --key is the job's fairness key (a tenant or\n"
                "customer id, 1..128 bytes): claims serve a class's keys in turn by\n"
                "weight. A TIME is Unix ms or RFC 3339 (2026-12-24T18:00:00Z), by the\n"
                "Redis clock. --start-by TIME or --start-within (from now)\n"
                "is the job's deadline for its first start: not before its --run-at or\n"
                "--delay, at most a year in the past; its class's on_expiry decides\n"
                "whether it runs late or is dead-lettered. A full queue exits 1.\n"
                "--wait-replicas N sends WAIT N (for --wait-timeout, default 1s, at most\n"
                "60s) after the enqueue: fewer replicas confirming it prints the id\n"
                "all the same and exits 4 (enqueued, but a failover may lose it).\n"},
    {"job", "usage: sluicectl job show|cancel ID\n"
            "\n"
            "  job show ID [--json]   state, attempts, times, key, payload\n"
            "  job cancel ID          cancel a ready or delayed job (leased: exit 1)\n"},
    {"job show", "usage: sluicectl job show ID [--json]\n\nPrints a job. Exit 3 if it is gone or never was.\n"},
    {"job cancel", "usage: sluicectl job cancel ID\n\nCancels a ready or delayed job.\n"},
    {"explain", "usage: sluicectl explain ID|CLASS [--json]\n"
                "\n"
                "Explains in plain words where the job is, how many jobs are ahead of it,\n"
                "whether its class is throttled (paused, pinned, governor fraction), by\n"
                "which signal and how far over target, and when it may run. Given a\n"
                "CLASS (no ':'), the class alone: its gate, the governor's last decision\n"
                "for it and, outside its run windows, when one opens. Exit 3 if the job\n"
                "or class is unknown.\n"},
    {"dead", "usage: sluicectl dead list|retry|purge CLASS ...\n"
             "\n"
             "  dead list CLASS [--offset N] [--count N] [--json]   newest first\n"
             "  dead retry CLASS ID|--all                          back to ready\n"
             "  dead purge CLASS ID|--all                          delete\n"},
    {"dead list", "usage: sluicectl dead list CLASS [--offset N] [--count N] [--json]\n"
                  "\n"
                  "Dead jobs, newest first (count default 20, 1..1000).\n"},
    {"dead retry", "usage: sluicectl dead retry CLASS ID|--all\n\nSends dead jobs back to ready, attempts reset.\n"},
    {"dead purge", "usage: sluicectl dead purge CLASS ID|--all\n\nDeletes dead jobs.\n"},
    {"apply", "usage: sluicectl apply FILE [--dry-run]\n"
              "\n"
              "Applies a JSON config ('-' reads stdin):\n"
              "  {\"classes\": {\"certificates\": {\"tier\": \"low\", \"max_rate\": 50, ...}},\n"
              "   \"signals\": {\"iops_util\": {\"target\": 0.8, \"critical\": 0.95,\n"
              "                 \"direction\": \"higher\", \"stale_after_ms\": 30000,\n"
              "                 \"on_stale\": \"assume-pressure\"}}}\n"
              "Class fields (a field left out takes its default):\n" NAMES_MARK
              "  windows outside_window key_weights on_expiry\n"
              "Signal fields: target and critical (required), direction, stale_after_ms,\n"
              "on_stale. A class's windows are a list, e.g. [{\"days\": \"mon-fri\",\n"
              "\"from\": \"20:00\", \"to\": \"07:00\", \"tz\": \"America/New_York\"}] (default\n"
              "[]); outside_window is floor (default) or none; key_weights an object of\n"
              "fairness key -> whole weight 1..100, e.g. {\"acme\": 3} (default {});\n"
              "on_expiry is run (default) or dead.\n"
              "Unknown keys are errors.\n"
              "The whole file is validated before anything is written. Classes and\n"
              "signals not in the file are left alone. Prints the diff against the live\n"
              "config; --dry-run writes nothing.\n"},
    {"export", "usage: sluicectl export\n"
               "\n"
               "Prints the live config in the format apply reads, so\n"
               "'sluicectl export > f; sluicectl apply f' changes nothing.\n"},
    {"simulate", "usage: sluicectl simulate [SCENARIO.json|-] [--seed N] [--json [--minutes]]\n"
                 "         [--csv FILE [--csv-period DURATION]] [--plot FILE.png]\n"
                 "         [--signal-period DURATION] [--signal-delay DURATION] [--set PARAM=VALUE]...\n"
                 "\n"
                 "Replays a scenario in virtual time (a day in about a second, deterministic\n"
                 "for a seed) through every admission policy: baseline (no background work),\n"
                 "no_limit, the best fixed limit (found by a sweep), a threshold throttle, and\n"
                 "sluice's governor running the real control law. Without SCENARIO, the\n"
                 "built-in incident (scripts/sim/incident.json); '-' reads stdin. Needs no\n"
                 "Redis. Prints a table per policy (peak and day p99, seconds over capacity,\n"
                 "makespan, spare capacity used, admission changes, reversals per hour, jobs\n"
                 "lost), each class's longest wait and deadline misses (late starts +\n"
                 "expired), for a class with keys its worst and median key's wait for a turn,\n"
                 "and the goals, each met or not with its figures.\n"
                 "\n"
                 "  --seed N                   the scenario's random seed instead of its own\n"
                 "  --json                     the whole report as JSON instead of the table\n"
                 "  --minutes                  with --json: per-minute p50 and p99 per policy\n"
                 "  --csv FILE                 write the time series (utilisation, p99, admitted\n"
                 "                             rate, backlog per policy) as CSV\n"
                 "  --csv-period DURATION      CSV row period (default 10s)\n"
                 "  --plot FILE.png            plot the series with gnuplot, one row per policy\n"
                 "  --signal-period DURATION   the monitor's averaging period (e.g. 1s, 10s, 60s)\n"
                 "  --signal-delay DURATION    how late each sample is published (e.g. 0s, 60s)\n"
                 "  --set PARAM=VALUE          a governor param over the scenario's, e.g.\n"
                 "                             band=0.05 or smoothing_ms=60000 (repeatable;\n"
                 "                             docs/governor.md lists them, and so does the\n"
                 "                             error for an unknown one)\n"
                 "\n"
                 "Exit codes: 0 done (whether or not the goals are met); 1 a file cannot be\n"
                 "written or gnuplot is missing or fails; 2 a bad option or scenario (the\n"
                 "message names the member, e.g. database.capacity_iops).\n"
                 "Example: sluicectl simulate --signal-delay 0s --plot /tmp/incident.png\n"},
    {"audit", "usage: sluicectl audit [--class CLASS] [--count N] [--json]\n"
              "\n"
              "Who changed what, when: the newest N (default 20) entries of the\n"
              "class's audit stream, or of every class and the global stream merged.\n"
              "The actor is the writer's client name (sluicectl:<user>@<host>).\n"},
    {"check", "usage: sluicectl check [CLASS...] [--max-jobs N | --force] [--json]\n"
              "\n"
              "Checks the invariants of the named classes (default: every registered\n"
              "class) and of the global keys, and prints each problem in words: every\n"
              "job in exactly one of ready, delayed, leased, dead and done, matching its\n"
              "state; every set member with a job; unique keys naming live jobs; the\n"
              "counters adding up; no absurd lease or due time; class, gate, signal and\n"
              "governor fields that parse. It never writes.\n"
              "\n"
              "Each class is read in one atomic snapshot that blocks Redis for a time\n"
              "proportional to its jobs: a class with more than --max-jobs jobs\n"
              "(default 10000) is refused unread; --force lifts the bound.\n"
              "\n"
              "Exit codes: 0 consistent, 1 a problem found (or a runtime failure, a\n"
              "class over --max-jobs), 2 usage error, 3 a named class is unknown.\n"},
};

/* The flags of sluicectl class set, one line per class field. */
static void print_class_fields(void) {
    static const char *const value[] = {[SLUICE_FIELD_TIER] = "TIER",
                                        [SLUICE_FIELD_RATE] = "RATE",
                                        [SLUICE_FIELD_NUMBER] = "N",
                                        [SLUICE_FIELD_INT] = "N",
                                        [SLUICE_FIELD_DURATION] = "DURATION"};
    const sluice_class_field *f;
    for (size_t i = 0; (f = sluice_class_field_at(i)); i++) {
        char flag[40], range[48] = "";
        snprintf(flag, sizeof(flag), "%s %s", f->flag, value[f->kind]);
        if (f->kind == SLUICE_FIELD_INT || f->kind == SLUICE_FIELD_NUMBER)
            snprintf(range, sizeof(range), " (%.15g..%.15g)", f->lo, f->hi);
        else if (f->kind == SLUICE_FIELD_RATE)
            snprintf(range, sizeof(range), " (50/s, 3000/m, 100/h)");
        else if (f->kind == SLUICE_FIELD_DURATION)
            snprintf(range, sizeof(range), " (500ms, 30s, 15m, 2h, 1d)");
        printf("  %-27s %s%s\n", flag, f->help, range);
    }
}

/* The class fields' names, as config files spell them, wrapped at 72. */
static void print_class_names(void) {
    const sluice_class_field *f;
    size_t col = 0;
    for (size_t i = 0; (f = sluice_class_field_at(i)); i++) {
        size_t n = strlen(f->name);
        if (col && col + 1 + n > 72) {
            putchar('\n');
            col = 0;
        }
        printf("%s%s", col ? " " : "  ", f->name);
        col += n + (col ? 1 : 2);
    }
    putchar('\n');
}

/* The first mark in text (*fields: 1 for FIELDS_MARK, 0 for NAMES_MARK), or NULL. */
static const char *next_mark(const char *text, int *fields) {
    const char *f = strstr(text, FIELDS_MARK), *n = strstr(text, NAMES_MARK);
    *fields = f && (!n || f < n);
    return *fields ? f : n;
}

int ctl_help(const char *cmd) {
    for (size_t i = 0; i < sizeof(HELP) / sizeof(HELP[0]); i++) {
        if (strcmp(HELP[i].cmd, cmd)) continue;
        const char *text = HELP[i].text, *mark;
        int fields;
        while ((mark = next_mark(text, &fields))) {
            fwrite(text, 1, (size_t)(mark - text), stdout);
            if (fields)
                print_class_fields();
            else
                print_class_names();
            text = mark + strlen(fields ? FIELDS_MARK : NAMES_MARK);
        }
        fputs(text, stdout);
        return 0;
    }
    return -1;
}
