/* sluicectl console's HTTP side against a real redis-server: a table of bad
 * requests (unknown class or route, malformed fraction or JSON, missing or
 * wrong token, cross-site, oversize body, path traversal, wrong method),
 * each answered with its 4xx and a JSON message, none changing anything; a
 * fuzz loop of mangled requests that never crashes the server; the actions
 * a right request takes, audited under the console user's name; and the
 * warning when it listens beyond this host without a token. */
#define _DEFAULT_SOURCE
#include "common_proc.h"

#include <jansson.h>

#define TOKEN "test-console-token-0123456789"

typedef struct console_proc {
    pid_t pid;
    int port;
    char dir[64];
} console_proc;

static console_proc con;

/* Reads the console's "console: http://HOST:PORT/" line from fd
 * within 10 s. Returns the port, or -1. */
static int read_port(int fd) {
    char buf[512];
    size_t n = 0;
    long long end = harness_now_ms() + 10000;
    while (n + 1 < sizeof(buf) && harness_now_ms() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0) continue;
        ssize_t k = read(fd, buf + n, sizeof(buf) - 1 - n);
        if (k <= 0) break;
        n += (size_t)k;
        buf[n] = '\0';
        const char *at = strstr(buf, "console: http://");
        const char *colon = at ? strchr(at + 16, ':') : NULL;
        if (colon && strchr(colon, '/')) return atoi(colon + 1);
    }
    return -1;
}

/* Starts sluicectl console in namespace t with "args" (NULL-terminated);
 * its stderr goes to "errlog". Fills *c. */
static void console_start(void **state, console_proc *c, const char *const *args, const char *errlog) {
    harness_redis *r = *state;
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)proc_bin("sluicectl");
    argv[n++] = (char *)"--redis";
    argv[n++] = r->url;
    argv[n++] = (char *)"--namespace";
    argv[n++] = (char *)"t";
    argv[n++] = (char *)"console";
    for (int i = 0; args[i] && n < 30; i++) argv[n++] = (char *)args[i];
    argv[n] = NULL;
    int op[2];
    if (pipe(op) < 0) fail_msg("pipe");
    c->pid = fork();
    if (c->pid == 0) {
        int fd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) dup2(fd, 2);
        dup2(op[1], 1);
        close(op[0]);
        close(op[1]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execv(argv[0], argv);
        _exit(127);
    }
    close(op[1]);
    for (int i = 0; i < 32; i++)
        if (!proc_pids[i]) {
            proc_pids[i] = c->pid;
            break;
        }
    c->port = read_port(op[0]);
    close(op[0]);
    if (c->port <= 0) fail_msg("the console did not print its address (see %s)", errlog);
}

typedef struct http_reply {
    int status; /* 0: no answer */
    char body[65536];
    json_t *json; /* the body parsed, or NULL */
} http_reply;

/* Sends "raw" (len bytes) to the console and reads the answer until it
 * closes. */
static void http_raw(const char *raw, size_t len, http_reply *out) {
    memset(out, 0, sizeof(*out));
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)con.port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        if (fd >= 0) close(fd);
        return;
    }
    for (size_t off = 0; off < len;) {
        ssize_t k = send(fd, raw + off, len - off, MSG_NOSIGNAL);
        if (k <= 0) break;
        off += (size_t)k;
    }
    shutdown(fd, SHUT_WR);
    static char buf[1 << 20];
    proc_read_all(fd, buf, sizeof(buf), 10000);
    close(fd);
    if (sscanf(buf, "HTTP/1.%*d %d", &out->status) != 1) out->status = 0;
    const char *body = strstr(buf, "\r\n\r\n");
    if (body) snprintf(out->body, sizeof(out->body), "%s", body + 4);
    out->json = json_loads(out->body, 0, NULL);
}

/* One request: "headers" are whole lines ending in \r\n (may be ""). */
static void http(const char *method, const char *path, const char *headers, const char *body, http_reply *out) {
    static char raw[1 << 17];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(raw, sizeof(raw), "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s", method, path,
                     con.port, headers);
    if (body) n += snprintf(raw + n, sizeof(raw) - (size_t)n, "Content-Length: %zu\r\n", blen);
    n += snprintf(raw + n, sizeof(raw) - (size_t)n, "\r\n%s", body ? body : "");
    http_raw(raw, (size_t)n, out);
}

static void reply_clear(http_reply *r) {
    json_decref(r->json);
    r->json = NULL;
}

#define AUTH "Authorization: Bearer " TOKEN "\r\n"
#define JSON_TYPE "Content-Type: application/json\r\n"
#define GOOD AUTH JSON_TYPE

/* Everything an action could change, as text: gates, mode, dead sets. */
static char *snapshot(sluice_client *c) {
    json_t *o = json_object();
    const char *classes[] = {"bulk", "mail"};
    for (size_t i = 0; i < 2; i++) {
        sluice_gate_info g;
        sluice_class_stats st;
        sluice_error err;
        if (sluice_gate_get(c, classes[i], &g, &err) < 0 || sluice_class_stats_get(c, classes[i], &st, &err) < 0)
            fail_msg("read %s: %s", classes[i], err.text);
        json_object_set_new(o, classes[i],
                            json_pack("{s:b, s:b, s:f, s:I, s:I}", "paused", g.paused, "pinned", g.pinned, "pin", g.pin,
                                      "dead", (json_int_t)st.dead, "ready", (json_int_t)st.ready));
    }
    sluice_governor_status gs;
    sluice_error err;
    if (sluice_governor_status_get(c, &gs, &err) < 0) fail_msg("governor: %s", err.text);
    json_object_set_new(o, "mode", json_string(sluice_governor_mode_name(gs.mode)));
    size_t n = 0;
    sluice_audit_entry *a = sluice_audit_list(c, NULL, 1000, &n, &err);
    sluice_audit_list_free(a, n);
    json_object_set_new(o, "audit", json_integer((json_int_t)n));
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

/* Declares bulk and mail, gives mail a dead job, starts the console. */
static int setup(void **state) {
    harness_redis *r = *state;
    sluice_error err;
    sluice_client *c = sluice_client_connect(r->url, "t", &err);
    if (!c) return -1;
    test_class(c, "bulk", SLUICE_TIER_LOW, 4);
    test_class(c, "mail", SLUICE_TIER_NORMAL, 4);
    char id[SLUICE_ID_MAX];
    sluice_enqueue_opts o = {.max_attempts = 1};
    sluice_job *jobs[1];
    sluice_claim_info info;
    int64_t retry = 0;
    if (sluice_enqueue(c, "mail", "{\"to\":\"x\"}", &o, id, &err) < 0 ||
        sluice_claim(c, "mail", "t", 1, jobs, &info, &err) < 0 || info.count != 1 ||
        sluice_fail(c, sluice_job_id(jobs[0]), sluice_job_token(jobs[0]), "smtp down", &retry, &err) < 0)
        return -1;
    sluice_job_free(jobs[0]);
    sluice_client_free(c);
    snprintf(con.dir, sizeof(con.dir), "/tmp/sluice-console-test-XXXXXX");
    if (!mkdtemp(con.dir)) return -1;
    char token[128], log[128];
    snprintf(token, sizeof(token), "%s/token", con.dir);
    snprintf(log, sizeof(log), "%s/console.log", con.dir);
    FILE *f = fopen(token, "w");
    if (!f) return -1;
    fprintf(f, "%s\n", TOKEN);
    fclose(f);
    const char *args[] = {"--listen", "127.0.0.1:0", "--token-file", token, "--user", "tester", NULL};
    console_start(state, &con, args, log);
    return 0;
}

/* Stops the console: it must exit 0 on SIGTERM (and, under ASan, with
 * nothing leaked). */
static int teardown(void **state) {
    (void)state;
    int st = 0;
    if (con.pid > 0) {
        kill(con.pid, SIGTERM);
        st = proc_wait(con.pid, 5000);
        proc_forget(con.pid);
    }
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", con.dir);
    if (con.dir[0] && system(cmd) != 0) return -1;
    if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "test_console: the console exited with status %d\n", st);
        return -1;
    }
    return 0;
}

static int group_setup(void **state) {
    return harness_group_setup(state) < 0 ? -1 : setup(state);
}

static int group_teardown(void **state) {
    teardown(state);
    return harness_group_teardown(state);
}

/* ------------------------------------------------------------------ tests */

static const struct bad_request {
    const char *method, *path, *headers, *body;
    int status;
    const char *says; /* in the JSON message */
} BAD[] = {
    {"POST", "/api/pause", GOOD, "{\"class\":\"nope\"}", 404, "unknown class 'nope'"},
    {"POST", "/api/pause", GOOD, "{\"class\":\"Bad Name!\"}", 400, "\"class\" must name a class"},
    {"POST", "/api/pause", GOOD, "{}", 400, "\"class\" must name a class"},
    {"POST", "/api/pin", GOOD, "{\"class\":\"bulk\",\"fraction\":\"half\"}", 400, "\"fraction\" must be a number"},
    {"POST", "/api/pin", GOOD, "{\"class\":\"bulk\",\"fraction\":1.5}", 400, "\"fraction\" must be a number"},
    {"POST", "/api/pin", GOOD, "{\"class\":\"bulk\",\"fraction\":-0.1}", 400, "\"fraction\" must be a number"},
    {"POST", "/api/pin", GOOD, "{\"class\":\"bulk\",\"fraction\":0.5,\"for\":\"soon\"}", 400, "\"for\" must be"},
    {"POST", "/api/pin", GOOD, "{\"class\":\"bulk\",\"fraction\":0.5,\"for\":5}", 400, "must be strings"},
    {"POST", "/api/mode", GOOD, "{\"mode\":\"turbo\"}", 400, "\"mode\" must be enforce, shadow or off"},
    {"POST", "/api/retry", GOOD, "{\"class\":\"mail\"}", 400, "\"id\" or \"all\""},
    {"POST", "/api/retry", GOOD, "{\"class\":\"mail\",\"id\":\"bulk:1\"}", 400, "must be a job of class mail"},
    {"POST", "/api/purge", GOOD, "{\"class\":\"mail\",\"id\":\"mail:999\"}", 404, ""},
    {"POST", "/api/pause", GOOD, "{\"class\":", 400, "the body is not JSON"},
    {"POST", "/api/pause", GOOD, "[\"bulk\"]", 400, "must be a JSON object"},
    {"POST", "/api/pause", JSON_TYPE, "{\"class\":\"bulk\"}", 401, "missing or wrong token"},
    {"POST", "/api/pause", "Authorization: Bearer wrong-token-wrong-token\r\n" JSON_TYPE, "{\"class\":\"bulk\"}", 401,
     "missing or wrong token"},
    {"POST", "/api/pause", "Authorization: " TOKEN "\r\n" JSON_TYPE, "{\"class\":\"bulk\"}", 401,
     "missing or wrong token"},
    {"POST", "/api/pause?token=" TOKEN, JSON_TYPE, "{\"class\":\"bulk\"}", 401, "missing or wrong token"},
    {"POST", "/api/pause", GOOD "Origin: http://evil.example\r\n", "{\"class\":\"bulk\"}", 403, "cross-site"},
    {"POST", "/api/pause", GOOD "Sec-Fetch-Site: cross-site\r\n", "{\"class\":\"bulk\"}", 403, "cross-site"},
    {"POST", "/api/pause", AUTH "Content-Type: text/plain\r\n", "{\"class\":\"bulk\"}", 415, "application/json"},
    {"POST", "/api/pause", AUTH "Content-Type: application/x-www-form-urlencoded\r\n", "class=bulk", 415,
     "application/json"},
    {"POST", "/api/pause", AUTH, "{\"class\":\"bulk\"}", 415, "application/json"},
    {"POST", "/api/launch", GOOD, "{}", 404, "no action 'launch'"},
    {"GET", "/api/pause", "", NULL, 405, "not allowed"},
    {"DELETE", "/api/state", "", NULL, 405, "not allowed"},
    {"PUT", "/", "", "x", 405, "not allowed"},
    {"POST", "/api/state", GOOD, "{}", 405, "not allowed"},
    {"GET", "/../../etc/passwd", "", NULL, 400, "path traversal"},
    {"GET", "/%2e%2e/%2e%2e/etc/passwd", "", NULL, 400, "path traversal"},
    {"GET", "/assets/..%2fconsole.c", "", NULL, 400, "path traversal"},
    {"GET", "/nothing-here.html", "", NULL, 404, "no page"},
    {"GET", "/%ff%fe%00x", "", NULL, 404, "no page"},
    {"GET", "/api/explain?id=%ff:1", "", NULL, 400, "invalid job id '?:1'"},
    {"GET", "/api/explain", "", NULL, 400, "explain needs ?id=JOB"},
    {"GET", "/api/explain?id=not-a-job", "", NULL, 400, "invalid job id"},
    {"GET", "/api/explain?id=bulk:424242", "", NULL, 404, "not found"},
};

static void bad_requests_get_a_4xx_with_a_message_and_change_nothing(void **state) {
    sluice_client *c = test_connect(state);
    char *before = snapshot(c);
    for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
        const struct bad_request *b = &BAD[i];
        http_reply r;
        http(b->method, b->path, b->headers, b->body, &r);
        const char *msg = json_string_value(json_object_get(r.json, "error"));
        if (r.status != b->status || !msg || !strstr(msg, b->says))
            fail_msg("%s %s %s: got %d %s, want %d with \"%s\"", b->method, b->path, b->body ? b->body : "", r.status,
                     r.body, b->status, b->says);
        reply_clear(&r);
    }
    /* an oversize body: refused whole, even with the token */
    static char big[5000];
    memset(big, ' ', sizeof(big) - 1);
    memcpy(big, "{\"class\":\"bulk\"}", 16);
    http_reply r;
    http("POST", "/api/pause", GOOD, big, &r);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body, "over 4096 bytes"));
    reply_clear(&r);
    /* a Host that is not this console's: a page of another name (DNS rebinding) */
    const char *rebound = "GET /api/state HTTP/1.1\r\nHost: evil.example:80\r\nConnection: close\r\n\r\n";
    http_raw(rebound, strlen(rebound), &r);
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(r.body, "Host header"));
    reply_clear(&r);
    char local[200];
    snprintf(local, sizeof(local), "GET /api/state HTTP/1.1\r\nHost: localhost:%d\r\nConnection: close\r\n\r\n",
             con.port);
    http_raw(local, strlen(local), &r);
    assert_int_equal(r.status, 200);
    reply_clear(&r);
    char *after = snapshot(c);
    assert_string_equal(before, after);
    free(before);
    free(after);
    assert_int_equal(waitpid(con.pid, NULL, WNOHANG), 0); /* still serving */
    sluice_client_free(c);
}

/* Random bytes, methods, paths and bodies mangled from good ones: every
 * request gets an answer (never a 5xx) and the server lives on. */
static void a_fuzz_loop_of_mangled_requests_never_crashes_the_server(void **state) {
    (void)state;
    static const char *const methods[] = {"GET", "POST", "HEAD", "PUT", "OPTIONS", "DELETE", "P\x01ST", ""};
    static const char *const paths[] = {"/",          "/api/state",  "/api/pause",       "/api/pin",    "/api/mode",
                                        "/api/retry", "/api/purge",  "/api/explain?id=", "/console.js", "/%00",
                                        "/api/../x",  "/api//pause", "/api/pause/x",     "//",          "*"};
    static const char *const bodies[] = {"{\"class\":\"zz\",\"fraction\":0.5}", "{\"mode\":\"\"}",
                                         "{\"class\":\"mail\",\"id\":\"mail:\"}", "{\"class\":null}", "{}"};
    unsigned seed = 19;
    char body[512], path[128], raw[2048];
    for (int i = 0; i < 400; i++) {
        const char *m = methods[rand_r(&seed) % 8];
        snprintf(path, sizeof(path), "%s", paths[rand_r(&seed) % 15]);
        snprintf(body, sizeof(body), "%s", bodies[rand_r(&seed) % 5]);
        size_t blen = strlen(body);
        for (int k = rand_r(&seed) % 4; k > 0; k--) body[rand_r(&seed) % blen] = (char)(1 + rand_r(&seed) % 255);
        for (int k = rand_r(&seed) % 2; k > 0; k--)
            path[rand_r(&seed) % strlen(path)] = (char)(33 + rand_r(&seed) % 94);
        http_reply r;
        if (i % 10 == 9) { /* raw garbage */
            size_t n = 1 + (size_t)rand_r(&seed) % (sizeof(raw) - 1);
            for (size_t k = 0; k < n; k++) raw[k] = (char)(rand_r(&seed) % 256);
            http_raw(raw, n, &r);
        } else {
            http(m, path, rand_r(&seed) % 2 ? "Content-Type: application/json\r\nAuthorization: Bearer x\r\n" : "",
                 rand_r(&seed) % 3 ? body : NULL, &r);
        }
        if (r.status >= 500) fail_msg("request %d (%s %s): %d %s", i, m, path, r.status, r.body);
        reply_clear(&r);
        if (waitpid(con.pid, NULL, WNOHANG) != 0) fail_msg("the console died at request %d", i);
    }
    http_reply r;
    http("GET", "/api/state", "", NULL, &r);
    assert_int_equal(r.status, 200);
    reply_clear(&r);
}

static void actions_with_the_token_change_the_gate_and_are_audited_as_the_console_user(void **state) {
    sluice_client *c = test_connect(state);
    http_reply r;
    http("POST", "/api/pin", GOOD, "{\"class\":\"bulk\",\"fraction\":0.25,\"for\":\"10m\"}", &r);
    assert_int_equal(r.status, 200);
    reply_clear(&r);
    sluice_gate_info g;
    sluice_error err;
    assert_int_equal(sluice_gate_get(c, "bulk", &g, &err), 0);
    assert_true(g.pinned && g.pin == 0.25 && g.pin_until > g.now);
    http("POST", "/api/unpin", GOOD "Origin: http://127.0.0.1:0\r\n", "{\"class\":\"bulk\"}", &r);
    assert_int_equal(r.status, 403); /* an Origin not this console's own */
    reply_clear(&r);
    char origin[256];
    snprintf(origin, sizeof(origin), GOOD "Origin: http://127.0.0.1:%d\r\nSec-Fetch-Site: same-origin\r\n", con.port);
    http("POST", "/api/unpin", origin, "{\"class\":\"bulk\"}", &r);
    assert_int_equal(r.status, 200);
    reply_clear(&r);
    http("POST", "/api/retry", GOOD, "{\"class\":\"mail\",\"all\":true}", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "message")), "retried 1 dead job of mail");
    reply_clear(&r);
    http("POST", "/api/mode", GOOD, "{\"mode\":\"shadow\"}", &r);
    assert_int_equal(r.status, 200);
    reply_clear(&r);
    sluice_governor_status gs;
    assert_int_equal(sluice_governor_status_get(c, &gs, &err), 0);
    assert_int_equal(gs.mode, SLUICE_GOVERNOR_SHADOW);
    size_t n = 0;
    sluice_audit_entry *a = sluice_audit_list(c, "bulk", 10, &n, &err);
    assert_true(n >= 2);
    assert_string_equal(a[0].actor, "console:tester");
    assert_string_equal(a[0].what, "unpinned");
    sluice_audit_list_free(a, n);
    http("GET", "/api/state", "", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "classes")), 2);
    assert_true(json_is_true(json_object_get(r.json, "actions")));
    reply_clear(&r);
    http("GET", "/", "", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "<title>sluice console</title>"));
    reply_clear(&r);
    sluice_client_free(c);
}

/* An address beyond this host, without a token: the warning comes before
 * the console listens (192.0.2.1 is TEST-NET-1, never an address of this
 * host, so it then cannot listen and the test opens no port but on
 * 127.0.0.1). */
static void listening_beyond_this_host_without_a_token_warns(void **state) {
    harness_redis *r = *state;
    const char *argv[] = {proc_bin("sluicectl"), "--redis", r->url, "console", "--listen", "192.0.2.1:0", NULL};
    char out[256], err[1024] = "";
    int st = proc_run(argv, NULL, NULL, out, sizeof(out), err, sizeof(err));
    assert_int_equal(st, 1);
    assert_non_null(strstr(err, "warning: listening on 192.0.2.1 without --token-file"));
    assert_non_null(strstr(err, "cannot listen on 192.0.2.1:0"));
}

static void bad_options_exit_2_naming_the_problem(void **state) {
    harness_redis *r = *state;
    static const char *const cases[][3] = {
        {"--listen", "127.0.0.1", "is not HOST:PORT"},
        {"--listen", "127.0.0.1:99999", "is not HOST:PORT"},
        {"--listen", "example.com:80", "is not an IPv4 address"},
        {"--token-file", "/nonexistent/token", "cannot read"},
        {"--user", "a b", "--user"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *argv[] = {proc_bin("sluicectl"), "--redis", r->url, "console", cases[i][0], cases[i][1], NULL};
        char out[256], err[1024] = "";
        int st = proc_run(argv, NULL, NULL, out, sizeof(out), err, sizeof(err));
        if (st != 2 || !strstr(err, cases[i][2]))
            fail_msg("console %s %s: status %d, stderr %s", cases[i][0], cases[i][1], st, err);
    }
}

int main(int argc, char **argv) {
    (void)argc;
    proc_init(argv[0]);
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_requests_get_a_4xx_with_a_message_and_change_nothing),
        cmocka_unit_test(a_fuzz_loop_of_mangled_requests_never_crashes_the_server),
        cmocka_unit_test(actions_with_the_token_change_the_gate_and_are_audited_as_the_console_user),
        cmocka_unit_test(listening_beyond_this_host_without_a_token_warns),
        cmocka_unit_test(bad_options_exit_2_naming_the_problem),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
