/* fuzz_queueparse_sendmail.c - libFuzzer target for the Sendmail mailq parser
 * (queueparse_sendmail.c), the qshape grid and the doctor queue report; the checks are in
 * fuzz_queueparse_common.h.  Seeds: listings of a sample queue in this format. */
#define QP_FUZZ_FORMAT QF_SENDMAIL
#include "fuzz_queueparse_common.h"
