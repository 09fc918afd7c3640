/*
 * pgstub.h — the few backend functions decoder/options.c calls, for running
 * it outside the server (fuzz_options.c).
 *
 * pgstub.c defines them as small stand-ins: palloc and friends draw from a
 * list that pgstub_reset frees at once (a memory context reset), lappend
 * grows a PostgreSQL 15 List, ereport(ERROR) jumps to pgstub_jmp with the
 * message in pgstub_message.  parse_bool, downcase_identifier (ASCII folding
 * and truncation to 63 bytes) and pg_strcasecmp are simplified: the target
 * checks options.c's own handling of memory and strings, not theirs.
 */
#ifndef PGCDC_FUZZ_PGSTUB_H
#define PGCDC_FUZZ_PGSTUB_H

#include <setjmp.h>

extern jmp_buf pgstub_jmp;
extern char pgstub_message[256];

/* Frees everything palloc'd since the last reset. */
extern void pgstub_reset(void);

#endif							/* PGCDC_FUZZ_PGSTUB_H */
