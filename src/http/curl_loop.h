/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A libcurl multi handle driven by one libuv loop: curl's sockets are watched
 * with a uv_poll each (CURLMOPT_SOCKETFUNCTION), its timeout with one
 * uv_timer (CURLMOPT_TIMERFUNCTION), and every finished transfer is handed
 * to one callback. The caller builds its easy handles, adds them here, and
 * gets each back exactly once: through the done callback, or by removing it.
 *
 * The caller calls curl_global_init before curl_loop_new and
 * curl_global_cleanup only after curl_loop_close. Everything runs on the
 * loop's thread.
 */
#ifndef PACER_HTTP_CURL_LOOP_H
#define PACER_HTTP_CURL_LOOP_H

#include <curl/curl.h>
#include <uv.h>

struct curl_loop;

/*
 * One transfer finished (result CURLE_OK or why it failed). The easy handle
 * was removed from the multi before the call and is the caller's again: it
 * may clean it up, or add it again. The callback may add and remove other
 * handles and may call curl_loop_close; no further done call follows a
 * close.
 */
typedef void curl_loop_done_fn(void *arg, CURL *easy, CURLcode result);

/*
 * Creates the multi handle and its timer on loop. done(arg, ...) is called
 * for each finished transfer. Returns 0 with *out, or PACER_EINTERNAL when
 * libcurl cannot create a multi handle (*out is then NULL and nothing was
 * set up).
 */
int curl_loop_new(struct curl_loop **out, uv_loop_t *loop, curl_loop_done_fn *done, void *arg);

/*
 * The multi handle, for curl_multi_setopt of limits (CURLMOPT_MAXCONNECTS and
 * the like). Its socket and timer options belong to curl_loop: do not change
 * them, nor add or remove handles other than through curl_loop.
 */
CURLM *curl_loop_multi(struct curl_loop *cl);

/*
 * Starts the transfer easy; the handle stays the caller's (it frees it, after
 * done or curl_loop_remove) but must not be touched by curl_easy_* calls
 * that change it while it runs. Returns 0, or PACER_EINTERNAL when curl
 * refuses the handle (already added somewhere): done is then never called
 * for it.
 */
int curl_loop_add(struct curl_loop *cl, CURL *easy);

/*
 * Aborts the transfer easy; done is not called for it. Removing a handle
 * that is not (or no longer) in the multi, e.g. from its done callback, does
 * nothing. Not after curl_loop_close.
 */
void curl_loop_remove(struct curl_loop *cl, CURL *easy);

/*
 * Aborts every transfer still added (done is not called for them; their easy
 * handles are detached and remain the caller's to clean up), cleans up the
 * multi handle and closes the timer and the poll handles. The memory goes
 * with the last close callback, so the caller must run the loop afterwards
 * (as for any uv_close). cl must not be used after this call. NULL is
 * allowed.
 */
void curl_loop_close(struct curl_loop *cl);

#endif
