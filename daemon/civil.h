/*
 * civil.h — dates of the proleptic Gregorian calendar as days since
 * 1970-01-01 and back (astronomical years: 1 BC is year 0), PostgreSQL's
 * calendar.  Header-only: the streamer's value readers and writers and
 * walsink's Debezium reader share it.  (Howard Hinnant's algorithms.)
 */
#ifndef PGCDC_DAEMON_CIVIL_H
#define PGCDC_DAEMON_CIVIL_H

#include <stdint.h>

/* Days from 1970-01-01 to y-m-d (m 1..12, d 1..31). */
static inline int64_t
civil_days(int64_t y, int64_t m, int64_t d)
{
	int64_t		era,
				yoe,
				doy,
				doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The date days after 1970-01-01. */
static inline void
civil_date(int64_t days, int64_t *y, int64_t *m, int64_t *d)
{
	int64_t		z = days + 719468;
	int64_t		era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t		doe = z - era * 146097;
	int64_t		yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t		doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t		mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yoe + era * 400 + (*m <= 2);
}

#endif							/* PGCDC_DAEMON_CIVIL_H */
