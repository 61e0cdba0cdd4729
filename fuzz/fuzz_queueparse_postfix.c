/* fuzz_queueparse_postfix.c - libFuzzer target for the postqueue -p / Postfix mailq text, short and long queue ids parser
 * (queueparse_postfix.c), the qshape grid and the doctor queue report; the checks are in
 * fuzz_queueparse_common.h.  Seeds: listings of a sample queue in this format. */
#define QP_FUZZ_FORMAT QF_POSTFIX
#include "fuzz_queueparse_common.h"
