"""The portal's pages (French, following the seed): home, practical information, my scrutins, my account."""
