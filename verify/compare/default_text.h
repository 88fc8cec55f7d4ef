/* The evaluation text wk-verify scores when no --text is given: original short stories in
 * the simple English of children's stories (written for weightkit, so it can ship under the
 * project's licence), long enough for several chunks of 512 tokens. */
#ifndef WK_VERIFY_COMPARE_DEFAULT_TEXT_H
#define WK_VERIFY_COMPARE_DEFAULT_TEXT_H

extern const char wk_default_eval_text[];

#endif
