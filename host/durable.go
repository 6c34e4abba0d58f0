package host

// durable is the persistence of a store opened with Options.Dir.
type durable struct{}

func (d *durable) restored(s *Store) error { return nil }
