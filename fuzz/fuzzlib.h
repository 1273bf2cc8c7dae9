/* fuzzlib.h - what every fuzz harness shares: an input cursor, a seeded RNG for libsodium, failing
 * loudly, rel checks. */
#ifndef QUN_FUZZLIB_H
#define QUN_FUZZLIB_H

#include <stddef.h>
#include <stdint.h>

#include "proto/rel.h"

/*
 * The libFuzzer entry points.  Every harness defines LLVMFuzzerTestOneInput;
 * LLVMFuzzerInitialize is defined once, in fuzzlib.c, and installs the
 * seeded RNG.  fuzz/replay.c calls both when libFuzzer is not there.
 */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Reads fields from the fuzzer's input.  Past the end every read yields
 * zeros (and fz_bytes an empty field), so a harness never has to check
 * lengths and every input, however short, is a valid program.
 */
struct fz {
	const uint8_t *p;
	size_t n, off;
};

void fz_init(struct fz *f, const uint8_t *data, size_t size);
int fz_more(const struct fz *f); /* 1 while unread bytes remain */
uint8_t fz_u8(struct fz *f);
uint16_t fz_u16(struct fz *f);
uint32_t fz_u32(struct fz *f);
uint64_t fz_u64(struct fz *f);
/* Up to want bytes, in place; returns how many there were (*out is never NULL). */
size_t fz_bytes(struct fz *f, size_t want, const uint8_t **out);

/*
 * libsodium's randomness, replaced by a seeded generator (splitmix64) so
 * that session ids, nonces, cookie secrets and hash keys are the same on
 * every run of an input: a crash found once replays every time.
 * fz_seed restarts the sequence; call it at the start of each input.
 */
void fz_seed(uint64_t seed);

/* The input being run, for failure messages (set by fuzz/replay.c; NULL under libFuzzer). */
extern const char *fz_current_input;

/* Report a broken invariant and abort(), which libFuzzer records as a crash. */
void fz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define FZ_CHECK(cond, ...)                                                                        \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fz_fail(__VA_ARGS__);                                                      \
	} while (0)

/*
 * The invariants of one reliability state (rel.h): the window and the
 * queue within their bounds, nothing held outside the window, the timer
 * between its floor and cap.  what names the state in the failure message.
 */
void fz_check_rel(const struct rel *r, const char *what);

#endif
