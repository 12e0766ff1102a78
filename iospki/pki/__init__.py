"""The PKI view: IOS timer arithmetic and the per-CA / per-trustpoint inputs that audit and
forecast both read (one adapter from host state, so the two never disagree on a fact)."""
