// The interaction of panva's node-oidc-provider answered at once, with no screen: the configured account signs in
// and every consent asked is granted. Used by the FranceConnect-style peer of the interoperability tests
// (interop/oidc_provider_fc.mjs) and by the throughput benchmark's provider (benchmarks/node/oidc_provider_bench.mjs).

/** Answers the pending interaction of ``req``: ``login`` is the login result (accountId, acr, amr). */
export async function answerInteraction(provider, login, req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params } = details;
  if (prompt.name === 'login') {
    await provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
    return;
  }
  if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  res.statusCode = 400;
  res.end(`unexpected prompt ${prompt.name}`);
}
