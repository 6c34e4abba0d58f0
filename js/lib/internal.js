// Names the package's modules share and users do not: the key of the
// method through which a replica reaches the store it keeps.

export const STORE = Symbol("actorstore.store");
