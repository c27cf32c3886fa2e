/* Does a webhook request come from whom the export trusts? One decision
 * per request, by webhook.provider and webhook.verify (docs/webhooks.md). */
#ifndef EXPORTD_WEBHOOK_VERIFY_H
#define EXPORTD_WEBHOOK_VERIFY_H

#include <jansson.h>

#include "webhook/webhook.h"

/*
 * Decide whether req may deliver to the export whose webhook block (with
 * its secrets decrypted) is given. Returns 0 to accept, -1 to reject; the
 * listener answers every rejection with the same 401. *why (if why is not
 * NULL) gets a static reason for debug logs; it never holds secret
 * material or request data. Every comparison is constant time and every
 * temporary that held a secret or a MAC is wiped.
 *
 * A GET carrying ?challenge= on a dropbox export is accepted unsigned
 * (Dropbox does not sign it); the caller must only answer the challenge
 * (webhook_response_challenge) and store nothing for a GET.
 */
int	webhook_verify(const json_t *webhook, const struct webhook_request *req,
	    const char **why);

/*
 * The dot path of the body field that carries the export's credential
 * (verify "token" with tokenLocation "body"; slack's legacy verification
 * token), or NULL when the credential is not in the body. The listener
 * removes that field before anything of the body is stored, as it drops
 * credential headers.
 */
const char	*webhook_verify_body_path(const json_t *webhook);

#endif
