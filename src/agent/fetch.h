/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fetching a task's `fetch` URIs into its sandbox, as the Mesos fetcher
 * does, run by the launcher (a process of its own, so blocking here is
 * fine). file:// URIs and plain paths are copied; http://, https:// and
 * ftp:// are downloaded with `curl` when it is installed. Then `executable`
 * sets mode 0755 (and nothing is extracted, as in Mesos), else `extract`
 * unpacks known archives next to the file: .tar, .tar.gz, .tgz, .tar.bz2,
 * .tbz2, .tar.xz, .txz with `tar`, .zip with `unzip`. Helper programs are
 * started with posix_spawnp, never fork.
 */
#ifndef PACER_AGENT_FETCH_H
#define PACER_AGENT_FETCH_H

#include "agent/launcher.h"
#include "base/strbuf.h"

/*
 * Fetches f into directory dir: the file is named f->dest_path (relative,
 * without "..") or the URI's last path component. Returns 0, or a negative
 * code with one line in why ("cannot fetch 'http://x': curl is not
 * installed").
 */
int fetch_uri(const struct launch_fetch *f, const char *dir, struct strbuf *why);

#endif
