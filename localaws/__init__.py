"""An embedded local AWS endpoint: moto's server plus one bridge per service it lacks."""
