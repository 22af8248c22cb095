"""Where frames go: one small module per sink, all behind `base.Sink`; `factory.open_sink` picks
one from the output argument."""
