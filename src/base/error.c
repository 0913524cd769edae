/* SPDX-License-Identifier: Apache-2.0 */
/* The error table; see error.h. */
#include "base/error.h"

#include <string.h>

const char *pacer_err_name(int err)
{
	switch (err) {
#define PACER_ERR_NAME(name, code, status, msg)                                                    \
	case code:                                                                                 \
		return "PACER_E" #name;
		PACER_ERRNO_MAP(PACER_ERR_NAME)
#undef PACER_ERR_NAME
	default:
		return err < 0 ? "ESYSTEM" : "OK";
	}
}

const char *pacer_strerror(int err)
{
	switch (err) {
#define PACER_ERR_MSG(name, code, status, msg)                                                     \
	case code:                                                                                 \
		return msg;
		PACER_ERRNO_MAP(PACER_ERR_MSG)
#undef PACER_ERR_MSG
	default:
		return err < 0 ? strerror(-err) : "success";
	}
}

int pacer_err_http_status(int err)
{
	switch (err) {
#define PACER_ERR_STATUS(name, code, status, msg)                                                  \
	case code:                                                                                 \
		return status;
		PACER_ERRNO_MAP(PACER_ERR_STATUS)
#undef PACER_ERR_STATUS
	default:
		return err < 0 ? 500 : 200;
	}
}
