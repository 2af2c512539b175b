"""The key ceremony: the portal's side (``portal ceremony …``, :mod:`.service`) and the trustees' side
(``portal trustee …``, :mod:`.trustee`), which exchange the JSON files of :mod:`.files`."""
