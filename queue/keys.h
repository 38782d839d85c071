/* sluice's keys in Redis: NS:{tag}:suffix, a class's keys under the class's
 * name as the tag, the global keys under GLOBAL_TAG. These lists are the one
 * source of the suffixes and of their order in every Function call; the
 * Functions' K, SUFFIX and key lists are generated from them. Private to
 * libsluice. X(identifier, suffix). */
#ifndef SLUICE_KEYS_H
#define SLUICE_KEYS_H

#define GLOBAL_TAG "_"

#define CLASS_KEY_LIST(X)                                                                                              \
    X(class, "class")         /* the configuration hash */                                                             \
    X(gate, "gate")           /* pause, pin and the governor's fraction */                                             \
    X(ready, "ready")         /* ready jobs by priority; also the channel that announces them */                       \
    X(delayed, "delayed")     /* jobs by due time */                                                                   \
    X(leased, "leased")       /* leased jobs by lease expiry */                                                        \
    X(dead, "dead")           /* dead jobs by time of death */                                                         \
    X(jobs, "jobs")           /* payloads by job id */                                                                 \
    X(meta, "meta")           /* job metadata by job id */                                                             \
    X(unique, "unique")       /* unique key -> job id */                                                               \
    X(stats, "stats")         /* counters and the duty cycle */                                                        \
    X(done, "done")           /* completed jobs kept (keep_done) */                                                    \
    X(audit, "audit")         /* the class's audit stream */                                                           \
    X(bucket, "bucket")       /* the rate limit's token bucket */                                                      \
    X(deadlines, "deadlines") /* waiting jobs by start_by; callers of library v8 send the 13 keys before it */         \
    X(parked, "parked")       /* ready jobs of keys at their cap (fair.lua); callers of v9 send the 14 before it */

#define SIGNAL_KEY_LIST(X) X(signals, "signals") X(signal_values, "signal-values") X(audit, "audit")
#define GOVERNOR_KEY_LIST(X) X(governor, "governor") X(history, "governor:history") X(audit, "audit")
#define REGISTRY_KEY_LIST(X) X(classes, "classes")
#define CHECK_KEY_LIST(X)                                                                                              \
    X(classes, "classes") X(signals, "signals") X(signal_values, "signal-values") X(governor, "governor")

#define CLASS_KEY_ENUM(id, suffix) CLASS_KEY_##id,
#define GOVERNOR_KEY_ENUM(id, suffix) GOVERNOR_KEY_##id,
#define KEY_COUNT(id, suffix) +1
enum class_key { CLASS_KEY_LIST(CLASS_KEY_ENUM) CLASS_NKEYS };
enum governor_key { GOVERNOR_KEY_LIST(GOVERNOR_KEY_ENUM) };
enum {
    SIGNAL_NKEYS = 0 SIGNAL_KEY_LIST(KEY_COUNT),
    GOVERNOR_NKEYS = 0 GOVERNOR_KEY_LIST(KEY_COUNT),
    REGISTRY_NKEYS = 0 REGISTRY_KEY_LIST(KEY_COUNT),
    CHECK_NKEYS = 0 CHECK_KEY_LIST(KEY_COUNT)
};
#undef CLASS_KEY_ENUM
#undef GOVERNOR_KEY_ENUM
#undef KEY_COUNT

#endif
