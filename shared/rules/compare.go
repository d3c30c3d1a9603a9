package rules

import "time"

// compare is a comparison with its operands parsed once.
type compare struct {
	op         Op
	s          string
	lo, hi     float64
	numOperand bool
}

func compileCompare(op Op, v, v2 string) compare {
	c := compare{op: op, s: v}
	c.lo, c.numOperand = number(v)
	if op == OpBetween {
		c.hi, _ = number(v2)
	}
	return c
}

// match applies the comparison to a canonical value.
func (c *compare) match(v string) bool {
	x, num := number(v)
	switch c.op {
	case OpGt:
		return num && x > c.lo
	case OpGe:
		return num && x >= c.lo
	case OpLt:
		return num && x < c.lo
	case OpLe:
		return num && x <= c.lo
	case OpBetween:
		return num && x >= c.lo && x <= c.hi
	case OpEq:
		if num && c.numOperand {
			return x == c.lo
		}
		return v == c.s
	case OpNe:
		if num && c.numOperand {
			return x != c.lo
		}
		return v != c.s
	case OpOn:
		return num && x != 0
	case OpOff:
		return num && x == 0
	case OpAny:
		return true
	}
	return false
}

// holds evaluates the condition tree at t.
func (c *Condition) holds(t time.Time, vals Values) bool {
	switch {
	case c.All != nil:
		for i := range c.All {
			if !c.All[i].holds(t, vals) {
				return false
			}
		}
		return true
	case c.Any != nil:
		for i := range c.Any {
			if c.Any[i].holds(t, vals) {
				return true
			}
		}
		return false
	case c.Datastream != nil:
		d := c.Datastream
		if vals == nil {
			return false
		}
		v, ok := vals.Value(d.Device, d.Pin)
		if !ok {
			return false
		}
		cmp := compileCompare(d.Op, d.Value, d.Value2)
		return cmp.match(v)
	case c.Window != nil:
		return c.Window.Contains(t)
	}
	return false
}
