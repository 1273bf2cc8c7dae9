/* replay.c - runs corpus files through a fuzz harness without libFuzzer: the regression test, built
 * with gcc and ASan. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzzlib.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/common_interface_defs.h>

/* ASan and UBSan reports do not name the input: say which one it was. */
static void name_input(void)
{
	if (fz_current_input != NULL)
		fprintf(stderr, "replay: the input above was %s\n", fz_current_input);
}
#endif

/*
 * Usage: replay-HARNESS FILE|DIR...
 * Each file is one input; a directory means every regular file in it, in
 * name order.  A crash or a broken invariant aborts (and ASan or UBSan
 * print why); otherwise the program prints how many inputs it ran.  This
 * is what `make check` runs where clang is not installed, and what keeps
 * every input that ever crashed a harness a regression test.
 */

static size_t ran;

static void run_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	long size;

	if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0) {
		perror(path);
		exit(2);
	}
	/* Exactly the input's size, so ASan catches a read one byte past it. */
	buf = malloc(size > 0 ? (size_t)size : 1);
	if (buf == NULL || fread(buf, 1, (size_t)size, fp) != (size_t)size) {
		perror(path);
		exit(2);
	}
	fclose(fp);
	fz_current_input = path;
	LLVMFuzzerTestOneInput(buf, (size_t)size);
	fz_current_input = NULL;
	free(buf);
	ran++;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void run_path(const char *path)
{
	struct dirent **ents;
	struct stat st;
	char sub[4096];
	int n, i;

	if (stat(path, &st) != 0) {
		perror(path);
		exit(2);
	}
	if (!S_ISDIR(st.st_mode)) {
		run_file(path);
		return;
	}
	n = scandir(path, &ents, NULL, by_name);
	if (n < 0) {
		perror(path);
		exit(2);
	}
	for (i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.' &&
		    snprintf(sub, sizeof sub, "%s/%s", path, ents[i]->d_name) < (int)sizeof sub &&
		    stat(sub, &st) == 0 && S_ISREG(st.st_mode))
			run_file(sub);
		free(ents[i]);
	}
	free(ents);
}

int main(int argc, char **argv)
{
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
#ifdef __SANITIZE_ADDRESS__
	__sanitizer_set_death_callback(name_input);
#endif
	LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++)
		run_path(argv[i]);
	printf("%s: %zu inputs replayed, 0 failed\n", argv[0], ran);
	return 0;
}
