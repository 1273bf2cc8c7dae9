/* sizes.h - the protocol's size limits, in one place so every layer agrees. */
#ifndef QUN_SIZES_H
#define QUN_SIZES_H

/* Largest UDP payload qun ever sends or accepts: it must cross any path unfragmented. */
#define QUN_MAX_DATAGRAM 1200

/* A name is 1..32 bytes of UTF-8 (so at most 10 CJK characters). */
#define QUN_MAX_NAME 32

/*
 * Longest chat text in bytes.  The longest relayed line is
 * "NAME 说：TEXT" = 32 + 1 + 6 + 1000 = 1039 bytes, well inside a datagram,
 * and the longest request "C NAME TEXT" is 2 + 32 + 1 + 1000 = 1035 bytes.
 */
#define QUN_MAX_TEXT 1000

/* Protocol v2 splits long text over several datagrams, up to this many bytes. */
#define QUN_MAX_TEXT_V2 4000

#endif
